/**
 * A live copy of every key under a prefix of the cluster store: read once, then kept current by a
 * watch that starts right after the read's revision, so no change is missed or seen twice. Gateways
 * route from such caches, workers follow partition maps with them, and a standby coordinator keeps
 * its view warm with them.
 *
 * Values are decoded once per change. A value that does not decode (written by another version, or
 * by hand) is logged and treated as absent, never thrown at the reader.
 */
import type { Logger } from './log.ts'
import type { ClusterStore, KeyValue, Watch, WatchEvent } from './store/types.ts'

export interface CacheEntry<T> {
  key: string
  value: T
  modRevision: number
  createRevision: number
  lease?: string
}

export type CacheChange<T> =
  | { type: 'put'; key: string; entry: CacheEntry<T>; prev: CacheEntry<T> | undefined }
  | { type: 'delete'; key: string; prev: CacheEntry<T> }

export interface PrefixCacheOptions<T> {
  store: ClusterStore
  prefix: string
  /** Turns a stored value into `T`; returns undefined for keys this cache does not hold; may throw. */
  decode: (key: string, value: string) => T | undefined
  logger: Logger
}

export class PrefixCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>()
  private readonly listeners = new Set<(changes: CacheChange<T>[]) => void>()
  /** Values this process is about to write, already decoded (see `expect`). */
  private readonly expected = new Map<string, { value: string; decoded: T }>()
  private watch: Watch | undefined
  private stopped = false
  private lastRevision = 0

  constructor(private readonly options: PrefixCacheOptions<T>) {}

  /** Reads the prefix and starts following it; resolves once the copy is complete and live. */
  async start(): Promise<void> {
    await this.resync()
  }

  get(key: string): CacheEntry<T> | undefined {
    return this.entries.get(key)
  }

  values(): IterableIterator<CacheEntry<T>> {
    return this.entries.values()
  }

  get size(): number {
    return this.entries.size
  }

  /** The store revision this copy reflects. */
  get revision(): number {
    return this.lastRevision
  }

  /**
   * Announce that this process is writing `value` under `key` and already holds it decoded: when
   * the watch brings exactly that value back, the cache takes `decoded` instead of decoding it
   * again. A writer on a hot path (a gateway reserving seats) would otherwise pay for every record
   * twice, once to build it and once to parse its own write. `decoded` must be what `decode` makes
   * of `value` and must not be changed afterwards. Only the next change of `key` is checked
   * against it, so an expectation whose write failed is dropped at that key's next change.
   */
  expect(key: string, value: string, decoded: T): void {
    this.expected.set(key, { value, decoded })
  }

  /** `listener` gets every batch of changes after it subscribed; returns the unsubscribe function. */
  onChange(listener: (changes: CacheChange<T>[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.listeners.clear()
    this.expected.clear()
    await this.watch?.cancel()
    this.watch = undefined
  }

  /**
   * Read everything, report the difference from what the cache held as changes, and watch from the
   * read's revision. Used at start and when a watch cannot continue (its revision was compacted).
   */
  private async resync(): Promise<void> {
    const { store, prefix, logger } = this.options
    await this.watch?.cancel()
    const { kvs, revision } = await store.range(prefix)
    if (this.stopped) return
    const changes: CacheChange<T>[] = []
    const seen = new Set<string>()
    for (const kv of kvs) {
      seen.add(kv.key)
      const change = this.applyPut(kv)
      if (change) changes.push(change)
    }
    for (const [key, prev] of this.entries) {
      if (!seen.has(key)) {
        this.entries.delete(key)
        changes.push({ type: 'delete', key, prev })
      }
    }
    this.lastRevision = revision
    this.emit(changes)
    this.watch = store.watch(prefix, {
      fromRevision: revision + 1,
      onEvents: (events) => this.applyEvents(events),
      onError: (err) => {
        if (this.stopped) return
        logger.warn({ err, prefix }, 'watch ended; reading the prefix again')
        this.resync().catch((e: unknown) => logger.error({ err: e, prefix }, 'cannot resync cache'))
      },
    })
    await this.watch.ready
  }

  private applyEvents(events: WatchEvent[]): void {
    if (this.stopped) return
    const changes: CacheChange<T>[] = []
    for (const event of events) {
      // Older than what the cache reflects (a resync read past it): applying it would go back in
      // time. Events at exactly that revision are harmless: applying them again changes nothing.
      if (event.revision < this.lastRevision) continue
      if (event.type === 'put') {
        const change = this.applyPut(event.kv)
        if (change) changes.push(change)
      } else {
        this.expected.delete(event.key)
        const prev = this.entries.get(event.key)
        if (prev) {
          this.entries.delete(event.key)
          changes.push({ type: 'delete', key: event.key, prev })
        }
      }
      this.lastRevision = Math.max(this.lastRevision, event.revision)
    }
    this.emit(changes)
  }

  private applyPut(kv: KeyValue): CacheChange<T> | undefined {
    const prev = this.entries.get(kv.key)
    if (prev && prev.modRevision === kv.modRevision) return undefined
    const expected = this.expected.get(kv.key)
    if (expected) this.expected.delete(kv.key)
    let value: T | undefined
    try {
      // Comparing the strings is far cheaper than parsing; on the in-memory store they are the
      // very same string.
      value = expected?.value === kv.value ? expected.decoded : this.options.decode(kv.key, kv.value)
    } catch (err) {
      this.options.logger.warn({ err, key: kv.key }, 'ignoring a record that does not decode')
      value = undefined
    }
    if (value === undefined) {
      if (!prev) return undefined
      this.entries.delete(kv.key)
      return { type: 'delete', key: kv.key, prev }
    }
    const entry: CacheEntry<T> = { key: kv.key, value, modRevision: kv.modRevision, createRevision: kv.createRevision }
    if (kv.lease !== undefined) entry.lease = kv.lease
    this.entries.set(kv.key, entry)
    return { type: 'put', key: kv.key, entry, prev }
  }

  private emit(changes: CacheChange<T>[]): void {
    if (changes.length === 0) return
    for (const listener of this.listeners) {
      try {
        listener(changes)
      } catch (err) {
        this.options.logger.error({ err, prefix: this.options.prefix }, 'cache listener failed')
      }
    }
  }
}
