/**
 * A prefix watch on etcd that survives lost connections without missing or repeating events.
 *
 * etcd3's watcher resumes by itself, but from the revision in the last response *header*, which
 * is the store's current revision rather than the last event sent: a connection lost while
 * replaying history would silently skip the rest of it. So this watch owns the resume: it remembers
 * the revision of the last event it delivered, and after a disconnection it drops the etcd3
 * watcher and opens a new one from the next revision (after a short backoff). etcd never splits a
 * revision across responses, so dropping events at or below the last delivered revision is exact.
 */
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3'
import type { Logger } from '../log.ts'
import { CompactedError, StoreClosedError, castEtcdError } from './errors.ts'
import type { KeyValue, Watch, WatchEvent, WatchOptions } from './types.ts'

export interface EtcdWatchSettings {
  /** First delay before reopening a dropped watch; doubles up to `maxBackoffMs`. */
  initialBackoffMs: number
  maxBackoffMs: number
  logger: Logger | undefined
}

/** Convert etcd's wire key-value (Buffers, string numbers, lease '0' for none) to ours. */
export function toKeyValue(kv: IKeyValue): KeyValue {
  const out: KeyValue = {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  }
  if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease)
  return out
}

export class EtcdWatch implements Watch {
  readonly ready: Promise<void>
  private resolveReady!: () => void
  private watcher: Watcher | undefined
  /** Revision to (re)start from; undefined until a live-only watch learns the current revision. */
  private nextRevision: number | undefined
  private lastDelivered = 0
  private backoffMs: number
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private stopped = false

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly options: WatchOptions,
    private readonly settings: EtcdWatchSettings,
    private readonly onStop: (watch: EtcdWatch) => void,
  ) {
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve
    })
    this.backoffMs = settings.initialBackoffMs
    if (options.fromRevision !== undefined) {
      this.nextRevision = options.fromRevision
      this.lastDelivered = options.fromRevision - 1
    }
  }

  /** Open the watch on etcd (separate from construction so a closed store can refuse first). */
  start(): void {
    this.open()
  }

  async cancel(): Promise<void> {
    if (this.stopped) return
    this.stop()
  }

  /** Stop because the store closed: tell the owner through `onError`. */
  closeByStore(): void {
    if (this.stopped) return
    this.stop()
    this.options.onError?.(new StoreClosedError('the cluster store closed while watching'))
  }

  private open(): void {
    if (this.stopped) return
    const builder = this.client.watch().prefix(this.prefix).withPreviousKV()
    if (this.nextRevision !== undefined) builder.startRevision(String(this.nextRevision))
    // `watcher()` attaches without waiting: connection failures arrive as 'disconnected', which
    // `create()` would never surface.
    const watcher = builder.watcher()
    this.watcher = watcher
    watcher.on('connected', (res: IWatchResponse) => {
      if (watcher !== this.watcher) return
      this.backoffMs = this.settings.initialBackoffMs
      this.nextRevision ??= Number(res.header.revision) + 1
      this.resolveReady()
    })
    watcher.on('data', (res: IWatchResponse) => {
      if (watcher === this.watcher) this.deliver(res)
    })
    watcher.on('disconnected', (err: Error) => {
      if (watcher === this.watcher) this.reopenLater(err)
    })
    watcher.on('error', (err: Error) => {
      if (watcher === this.watcher) this.fail(err)
    })
  }

  private deliver(res: IWatchResponse): void {
    const events: WatchEvent[] = []
    for (const ev of res.events) {
      const revision = Number(ev.kv.mod_revision)
      if (revision <= this.lastDelivered) continue
      if (ev.type === 'Put') {
        events.push({ type: 'put', kv: toKeyValue(ev.kv), revision })
      } else {
        const event: WatchEvent = { type: 'delete', key: ev.kv.key.toString(), revision }
        if (ev.prev_kv) event.prev = toKeyValue(ev.prev_kv)
        events.push(event)
      }
    }
    const last = events[events.length - 1]
    if (!last || this.stopped) return
    this.lastDelivered = last.revision
    this.nextRevision = last.revision + 1
    try {
      this.options.onEvents(events)
    } catch (err) {
      this.settings.logger?.error({ err, prefix: this.prefix }, 'watch callback threw')
    }
  }

  private reopenLater(err: Error): void {
    this.detach()
    if (this.stopped) return
    this.settings.logger?.debug({ err, prefix: this.prefix, from: this.nextRevision, delayMs: this.backoffMs }, 'watch disconnected; reopening')
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.open()
    }, this.backoffMs)
    this.backoffMs = Math.min(this.settings.maxBackoffMs, this.backoffMs * 2)
  }

  private fail(err: Error): void {
    if (this.stopped) return
    // etcd already cancelled this watcher: cancelling it again would make etcd answer about a
    // watch id etcd3 no longer knows, which etcd3 throws on.
    this.watcher = undefined
    this.stop()
    // etcd cancels a watch whose start revision was compacted (sometimes with an empty reason).
    const reason = err.message
    const error =
      /compact/i.test(reason) || /Watcher canceled: ?$/.test(reason)
        ? new CompactedError(`cannot watch ${this.prefix} from revision ${this.nextRevision}: history compacted`, undefined, { cause: err })
        : castEtcdError(err)
    this.options.onError?.(error)
  }

  private stop(): void {
    this.stopped = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.detach()
    this.resolveReady()
    this.onStop(this)
  }

  private detach(): void {
    const watcher = this.watcher
    this.watcher = undefined
    if (!watcher) return
    watcher.removeAllListeners()
    // Keep an error listener: an EventEmitter 'error' with no listener would throw.
    watcher.on('error', () => undefined)
    watcher.cancel().catch((err: unknown) => this.settings.logger?.debug({ err }, 'cancelling an etcd watcher failed'))
  }
}
