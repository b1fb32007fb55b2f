/**
 * `MemoryStore`: the cluster store inside one process. Embedded mode runs on it, so it keeps etcd's
 * semantics rather than approximating them: one store-wide revision, per-key create/mod revisions
 * and versions, leases that expire on a clock and take their keys with them in one revision, a
 * bounded event history that watches replay from, and atomic transactions.
 *
 * Watch callbacks run in a microtask, never inside the write that caused them, so a callback may
 * write to the store without re-entering it.
 */
import type { Logger } from '../log.ts'
import { CompactedError, LeaseExpiredError, StoreClosedError } from './errors.ts'
import type {
  ClusterStore,
  Compare,
  KeyValue,
  Lease,
  LeaseId,
  LeaseOptions,
  PutOptions,
  RangeResult,
  TxnOp,
  TxnRequest,
  TxnResult,
  Watch,
  WatchEvent,
  WatchOptions,
} from './types.ts'

/** Time source and timers, injectable so tests can drive lease expiry with a manual clock. */
export interface StoreClock {
  /** Milliseconds, monotonic enough for TTLs. */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/**
 * The real clock. Looks the globals up on every call (so vitest fake timers apply), and unrefs
 * timers so keep-alives never hold a process open.
 */
export const systemClock: StoreClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms)
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

export interface MemoryStoreOptions {
  /** Clock for lease TTLs and keep-alives. Default `systemClock`. */
  clock?: StoreClock
  /** Events kept for `watch({ fromRevision })`; older ones are compacted away. Default 10 000. */
  historyLimit?: number
  /** Where failures of watch callbacks are reported. Default: nowhere. */
  logger?: Logger
}

interface MemoryWatcher {
  prefix: string
  fromRevision: number
  options: WatchOptions
  pending: WatchEvent[]
  scheduled: boolean
  cancelled: boolean
}

export class MemoryStore implements ClusterStore {
  readonly kind = 'memory' as const

  private readonly clock: StoreClock
  private readonly historyLimit: number
  private readonly logger: Logger | undefined
  // etcd starts an empty store at revision 1; so do we, so revisions line up in tests and logs.
  private revision = 1
  private readonly kvs = new Map<string, KeyValue>()
  private history: WatchEvent[] = []
  /** Every event with a revision <= this one has been discarded. */
  private compactedThrough = 0
  private readonly watchers = new Set<MemoryWatcher>()
  private readonly leases = new Map<LeaseId, MemoryLease>()
  private nextLeaseId = 1
  private closed = false

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock
    this.historyLimit = Math.max(1, options.historyLimit ?? 10_000)
    this.logger = options.logger
  }

  /** The current store revision. */
  get currentRevision(): number {
    return this.revision
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen()
    const kv = this.kvs.get(key)
    return kv && { ...kv }
  }

  async range(prefix: string): Promise<RangeResult> {
    this.assertOpen()
    return { kvs: this.matching(prefix).map((kv) => ({ ...kv })), revision: this.revision }
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<number> {
    this.assertOpen()
    const result = this.applyTxn({ compare: [], success: [{ type: 'put', key, value, lease: options.lease }] })
    return result.revision
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    const existed = this.kvs.has(key)
    this.applyTxn({ compare: [], success: [{ type: 'delete', key }] })
    return existed
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen()
    const count = this.matching(prefix).length
    this.applyTxn({ compare: [], success: [{ type: 'deletePrefix', prefix }] })
    return count
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    this.assertOpen()
    return this.applyTxn(request)
  }

  watch(prefix: string, options: WatchOptions): Watch {
    const watcher: MemoryWatcher = {
      prefix,
      // Live-only watches start after the current revision.
      fromRevision: options.fromRevision ?? this.revision + 1,
      options,
      pending: [],
      scheduled: false,
      cancelled: false,
    }
    const handle: Watch = {
      ready: Promise.resolve(),
      cancel: async () => {
        watcher.cancelled = true
        this.watchers.delete(watcher)
      },
    }
    if (this.closed) {
      this.failWatcher(watcher, new StoreClosedError())
      return handle
    }
    if (watcher.fromRevision <= this.compactedThrough) {
      this.failWatcher(
        watcher,
        new CompactedError(
          `cannot watch from revision ${watcher.fromRevision}: compacted through ${this.compactedThrough}`,
          this.compactedThrough + 1,
        ),
      )
      return handle
    }
    // History and registration happen in the same synchronous step, so no write falls between
    // the replay and the live events.
    this.enqueue(watcher, this.history)
    this.watchers.add(watcher)
    return handle
  }

  async grantLease(ttlSeconds: number, options: LeaseOptions = {}): Promise<Lease> {
    this.assertOpen()
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`lease TTL must be positive, got ${ttlSeconds}`)
    const lease = new MemoryLease(String(this.nextLeaseId++), ttlSeconds, this)
    this.leases.set(lease.id, lease)
    lease.start(options.keepAlive ?? true)
    return lease
  }

  /** Discard history up to and including `revision` (as etcd's compaction does). */
  compact(revision: number): void {
    const through = Math.min(revision, this.revision)
    if (through <= this.compactedThrough) return
    this.history = this.history.filter((event) => event.revision > through)
    this.compactedThrough = through
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const lease of [...this.leases.values()]) lease.end()
    this.leases.clear()
    for (const watcher of [...this.watchers]) this.failWatcher(watcher, new StoreClosedError())
    this.watchers.clear()
  }

  /** @internal the clock, for leases. */
  get leaseClock(): StoreClock {
    return this.clock
  }

  /** @internal End a lease: delete its keys in one revision, then resolve `lost`. */
  endLease(lease: MemoryLease): void {
    if (!this.leases.delete(lease.id)) return
    const keys = [...this.kvs.values()].filter((kv) => kv.lease === lease.id).map((kv) => kv.key)
    if (keys.length > 0 && !this.closed) {
      this.applyTxn({ compare: [], success: keys.map((key) => ({ type: 'delete' as const, key })) })
    }
    lease.end()
  }

  private applyTxn(request: TxnRequest): TxnResult {
    const succeeded = request.compare.every((compare) => evaluateCompare(compare, this.kvs.get(compare.key)))
    const ops = succeeded ? request.success : (request.failure ?? [])
    // Validate before writing anything: a transaction applies entirely or not at all.
    for (const op of ops) {
      if (op.type === 'put' && op.lease !== undefined && !this.leases.has(op.lease)) {
        throw new LeaseExpiredError(`lease ${op.lease} not found`)
      }
    }
    const nextRevision = this.revision + 1
    const events: WatchEvent[] = []
    const reads: (KeyValue | undefined)[] = []
    for (const op of ops) this.applyOp(op, nextRevision, events, reads)
    if (events.length > 0) {
      this.revision = nextRevision
      this.record(events)
    }
    return { succeeded, revision: this.revision, reads }
  }

  private applyOp(op: TxnOp, revision: number, events: WatchEvent[], reads: (KeyValue | undefined)[]): void {
    switch (op.type) {
      case 'get': {
        const kv = this.kvs.get(op.key)
        reads.push(kv && { ...kv })
        return
      }
      case 'put': {
        const prev = this.kvs.get(op.key)
        const kv: KeyValue = {
          key: op.key,
          value: op.value,
          createRevision: prev?.createRevision ?? revision,
          modRevision: revision,
          version: (prev?.version ?? 0) + 1,
        }
        if (op.lease !== undefined) kv.lease = op.lease
        this.kvs.set(op.key, kv)
        events.push({ type: 'put', kv: { ...kv }, revision })
        return
      }
      case 'delete':
        this.deleteKey(op.key, revision, events)
        return
      case 'deletePrefix':
        for (const kv of this.matching(op.prefix)) this.deleteKey(kv.key, revision, events)
        return
    }
  }

  private deleteKey(key: string, revision: number, events: WatchEvent[]): void {
    const prev = this.kvs.get(key)
    if (!prev) return
    this.kvs.delete(key)
    events.push({ type: 'delete', key, revision, prev: { ...prev } })
  }

  private record(events: WatchEvent[]): void {
    this.history.push(...events)
    if (this.history.length > this.historyLimit) this.trimHistory()
    for (const watcher of this.watchers) this.enqueue(watcher, events)
  }

  // Trim to 90% of the limit so trimming is amortised, and only at a revision boundary so a
  // watch never sees half of a transaction.
  private trimHistory(): void {
    let cut = this.history.length - Math.floor(this.historyLimit * 0.9)
    const last = this.history[cut - 1]
    if (!last) return
    while (this.history[cut]?.revision === last.revision) cut++
    this.history.splice(0, cut)
    this.compactedThrough = last.revision
  }

  private matching(prefix: string): KeyValue[] {
    const out: KeyValue[] = []
    for (const kv of this.kvs.values()) if (kv.key.startsWith(prefix)) out.push(kv)
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  private enqueue(watcher: MemoryWatcher, events: readonly WatchEvent[]): void {
    for (const event of events) {
      const key = event.type === 'put' ? event.kv.key : event.key
      if (event.revision >= watcher.fromRevision && key.startsWith(watcher.prefix)) watcher.pending.push(event)
    }
    if (watcher.pending.length === 0 || watcher.scheduled) return
    watcher.scheduled = true
    queueMicrotask(() => this.flush(watcher))
  }

  private flush(watcher: MemoryWatcher): void {
    watcher.scheduled = false
    const batch = watcher.pending
    watcher.pending = []
    if (watcher.cancelled || batch.length === 0) return
    try {
      watcher.options.onEvents(batch)
    } catch (err) {
      this.logger?.error({ err, prefix: watcher.prefix }, 'watch callback threw')
    }
  }

  private failWatcher(watcher: MemoryWatcher, err: Error): void {
    watcher.cancelled = true
    this.watchers.delete(watcher)
    queueMicrotask(() => watcher.options.onError?.(err))
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError()
  }
}

/** A lease of the memory store: expires `ttlSeconds` after its last renewal. */
class MemoryLease implements Lease {
  readonly lost: Promise<void>
  private resolveLost!: () => void
  private lostFlag = false
  private expiresAt = 0
  private expiryTimer: unknown
  private keepAliveTimer: unknown
  private released = false

  constructor(
    readonly id: LeaseId,
    readonly ttlSeconds: number,
    private readonly store: MemoryStore,
  ) {
    this.lost = new Promise((resolve) => {
      this.resolveLost = resolve
    })
  }

  get isLost(): boolean {
    return this.lostFlag || this.released
  }

  /** Start the TTL and, if asked, renew every third of it (as etcd clients do). */
  start(keepAlive: boolean): void {
    const clock = this.store.leaseClock
    const ttlMs = this.ttlSeconds * 1000
    this.expiresAt = clock.now() + ttlMs
    this.scheduleExpiry()
    if (!keepAlive) return
    const renew = (): void => {
      if (this.lostFlag) return
      this.expiresAt = clock.now() + ttlMs
      this.keepAliveTimer = clock.setTimeout(renew, ttlMs / 3)
    }
    this.keepAliveTimer = clock.setTimeout(renew, ttlMs / 3)
  }

  async revoke(): Promise<void> {
    this.store.endLease(this)
  }

  release(): void {
    if (this.lostFlag || this.released) return
    this.store.leaseClock.clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = undefined
    this.released = true
    // Only the holder lets go: the store still expires the lease (and deletes its keys) on time.
    this.resolveLost()
  }

  /** Stop timers and resolve `lost`. Idempotent. */
  end(): void {
    if (this.lostFlag) return
    this.lostFlag = true
    const clock = this.store.leaseClock
    clock.clearTimeout(this.expiryTimer)
    clock.clearTimeout(this.keepAliveTimer)
    this.resolveLost()
  }

  private scheduleExpiry(): void {
    const clock = this.store.leaseClock
    this.expiryTimer = clock.setTimeout(
      () => {
        if (this.lostFlag) return
        // Renewed since this timer was set: wait for the new deadline.
        if (clock.now() < this.expiresAt) this.scheduleExpiry()
        else this.store.endLease(this)
      },
      Math.max(0, this.expiresAt - clock.now()),
    )
  }
}

/**
 * One transaction condition against a key's current state, as etcd evaluates it: a missing key
 * has version/createRevision/modRevision 0, and any value comparison on it fails.
 */
function evaluateCompare(compare: Compare, kv: KeyValue | undefined): boolean {
  if (compare.target === 'value') {
    if (!kv) return false
    return holds(compareStrings(kv.value, compare.value), compare.op)
  }
  const actual = kv ? kv[compare.target] : 0
  return holds(Math.sign(actual - compare.value), compare.op)
}

function compareStrings(a: string, b: string): number {
  // etcd compares bytes; UTF-8 byte order equals code point order, which Buffer.compare gives.
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

function holds(sign: number, op: Compare['op']): boolean {
  switch (op) {
    case '==':
      return sign === 0
    case '!=':
      return sign !== 0
    case '<':
      return sign < 0
    case '>':
      return sign > 0
  }
}
