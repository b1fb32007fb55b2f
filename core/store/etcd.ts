/**
 * `EtcdStore`: the cluster store on etcd v3, through `etcd3`.
 *
 * Fault handling is ours, not etcd3's defaults: those retry three times and open a per-host
 * circuit breaker for five seconds after three failures, so a caller waits long on a dead etcd and
 * keeps failing for seconds after it returns. Here every unary call has a deadline (default 2 s),
 * a failed call is retried only on another endpoint, and there is no circuit breaker: a call made
 * after etcd comes back goes straight to it. Every failure surfaces as a `StoreError`
 * (`StoreUnavailableError`, retryable, for anything transient).
 */
import { CompareResult, CompareTarget, Etcd3, Range, isRecoverableError } from 'etcd3'
import type { ICompare, IOptions, IRequestOp } from 'etcd3'
import type { Logger } from '../log.ts'
import { EtcdLease } from './etcd-lease.ts'
import { EtcdWatch, toKeyValue } from './etcd-watch.ts'
import { StoreClosedError, castEtcdError } from './errors.ts'
import type {
  ClusterStore,
  Compare,
  KeyValue,
  Lease,
  LeaseOptions,
  PutOptions,
  RangeResult,
  TxnOp,
  TxnRequest,
  TxnResult,
  Watch,
  WatchOptions,
} from './types.ts'

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[]
  /** Deadline of each unary call, in ms. Default 2000. */
  callTimeoutMs?: number
  /** First delay before reopening a dropped watch; doubles up to `watchMaxBackoffMs`. Default 100. */
  watchInitialBackoffMs?: number
  /** Longest delay between attempts to reopen a dropped watch. Default 1000. */
  watchMaxBackoffMs?: number
  logger?: Logger
}

type FaultHandling = NonNullable<IOptions['faultHandling']>
type Policy = NonNullable<FaultHandling['global']>

/** Runs the call once: no retries, no circuit breaker. */
function passThroughPolicy(): Policy {
  return policy(async (fn, ctx) => fn(ctx))
}

/** Retries a failed call on the next endpoint (etcd3 picks another host on each attempt). */
function otherEndpointPolicy(attempts: number): Policy {
  return policy(async (fn, ctx) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(ctx)
      } catch (err) {
        if (attempt >= attempts || !(err instanceof Error) || !isRecoverableError(err)) throw err
      }
    }
  })
}

type Backoff = NonNullable<FaultHandling['watchBackoff']>

/** Doubling delays from `ms`, capped at `maxMs`. */
function cappedBackoff(ms: number, maxMs: number): Backoff {
  return { duration: ms, next: () => cappedBackoff(Math.min(maxMs, ms * 2), maxMs) }
}

type Execute = <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T, ctx: { signal: AbortSignal }) => Promise<T>

// etcd3 takes cockatiel policies; this is the structural minimum it calls (`execute`).
function policy(run: Execute): Policy {
  const noEvents = () => ({ dispose: () => undefined })
  return {
    _altReturn: undefined as never,
    onSuccess: noEvents,
    onFailure: noEvents,
    execute: (fn, signal) => run(fn, { signal: signal ?? new AbortController().signal }),
  }
}

const compareResults: Record<Compare['op'], CompareResult> = {
  '==': CompareResult.Equal,
  '!=': CompareResult.NotEqual,
  '<': CompareResult.Less,
  '>': CompareResult.Greater,
}

export class EtcdStore implements ClusterStore {
  readonly kind = 'etcd' as const

  private readonly client: Etcd3
  private readonly logger: Logger | undefined
  private readonly watchSettings: ConstructorParameters<typeof EtcdWatch>[3]
  private readonly watches = new Set<EtcdWatch>()
  private readonly leases = new Set<EtcdLease>()
  private closed = false

  constructor(options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new RangeError('EtcdStore needs at least one endpoint')
    const callTimeoutMs = options.callTimeoutMs ?? 2000
    this.logger = options.logger
    this.watchSettings = {
      initialBackoffMs: options.watchInitialBackoffMs ?? 100,
      maxBackoffMs: options.watchMaxBackoffMs ?? 1000,
      logger: options.logger,
    }
    this.client = new Etcd3({
      hosts: options.endpoints,
      // Streams (watch, keep-alive) live long; only unary calls get a deadline.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
      faultHandling: {
        host: () => passThroughPolicy(),
        global: otherEndpointPolicy(options.endpoints.length),
        // Our watches reopen themselves (see etcd-watch.ts); keep etcd3's own retry timer short too.
        watchBackoff: cappedBackoff(this.watchSettings.initialBackoffMs, this.watchSettings.maxBackoffMs),
      },
      grpcOptions: {
        // Reconnect quickly once etcd is back rather than after gRPC's default backoff (up to 2 min).
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    })
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(key) }))
    const kv = res.kvs[0]
    return kv && toKeyValue(kv)
  }

  async range(prefix: string): Promise<RangeResult> {
    const range = Range.prefix(prefix)
    const res = await this.call(() => this.client.kv.range({ key: range.start, range_end: range.end }))
    return { kvs: res.kvs.map(toKeyValue), revision: Number(res.header.revision) }
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<number> {
    const res = await this.call(() =>
      this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), ...(options.lease === undefined ? {} : { lease: options.lease }) }),
    )
    return Number(res.header.revision)
  }

  async delete(key: string): Promise<boolean> {
    const res = await this.call(() => this.client.kv.deleteRange({ key: Buffer.from(key) }))
    return Number(res.deleted) > 0
  }

  async deletePrefix(prefix: string): Promise<number> {
    const range = Range.prefix(prefix)
    const res = await this.call(() => this.client.kv.deleteRange({ key: range.start, range_end: range.end }))
    return Number(res.deleted)
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const res = await this.call(() =>
      this.client.kv.txn({
        compare: request.compare.map(toEtcdCompare),
        success: request.success.map(toEtcdOp),
        failure: (request.failure ?? []).map(toEtcdOp),
      }),
    )
    const reads: (KeyValue | undefined)[] = []
    for (const response of res.responses) {
      // The generated type lists every field; at runtime only the one that ran is set.
      const range = response.response_range as (typeof response)['response_range'] | undefined
      if (range) {
        const kv = range.kvs[0]
        reads.push(kv && toKeyValue(kv))
      }
    }
    return { succeeded: res.succeeded, revision: Number(res.header.revision), reads }
  }

  watch(prefix: string, options: WatchOptions): Watch {
    const watch = new EtcdWatch(this.client, prefix, options, this.watchSettings, (w) => this.watches.delete(w))
    if (this.closed) {
      watch.closeByStore()
      return watch
    }
    this.watches.add(watch)
    watch.start()
    return watch
  }

  async grantLease(ttlSeconds: number, options: LeaseOptions = {}): Promise<Lease> {
    this.assertOpen()
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`etcd lease TTL must be a whole number of seconds >= 1, got ${ttlSeconds}`)
    const keepAlive = options.keepAlive ?? true
    const inner = this.client.lease(ttlSeconds, { autoKeepAlive: keepAlive })
    // etcd3 reports a failed grant both by rejecting and by a 'lost' event; the rejection is ours.
    let id: string
    try {
      id = await inner.grant()
    } catch (err) {
      inner.release()
      throw castEtcdError(err)
    }
    const granted = await this.grantedTtl(id, ttlSeconds)
    const lease = new EtcdLease(id, granted, this.client, inner, keepAlive, this.logger, (l) => this.leases.delete(l))
    this.leases.add(lease)
    return lease
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const watch of [...this.watches]) watch.closeByStore()
    for (const lease of [...this.leases]) lease.release()
    this.client.close()
  }

  /**
   * The TTL etcd actually granted: it raises short TTLs to its minimum (2 s with default
   * heartbeat settings). Falls back to the requested TTL if etcd cannot say.
   */
  private async grantedTtl(id: string, requested: number): Promise<number> {
    try {
      const res = await this.client.leaseClient.leaseTimeToLive({ ID: id })
      const granted = Number(res.grantedTTL)
      return Number.isFinite(granted) && granted > 0 ? granted : requested
    } catch (err) {
      this.logger?.debug({ err, lease: id }, 'could not read the granted TTL')
      return requested
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen()
    try {
      return await fn()
    } catch (err) {
      throw castEtcdError(err)
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError()
  }
}

function toEtcdCompare(compare: Compare): ICompare {
  const base = { key: Buffer.from(compare.key), result: compareResults[compare.op] }
  switch (compare.target) {
    case 'value':
      return { ...base, target: CompareTarget.Value, value: Buffer.from(compare.value) }
    case 'version':
      return { ...base, target: CompareTarget.Version, version: compare.value }
    case 'createRevision':
      return { ...base, target: CompareTarget.Create, create_revision: compare.value }
    case 'modRevision':
      return { ...base, target: CompareTarget.Mod, mod_revision: compare.value }
  }
}

function toEtcdOp(op: TxnOp): IRequestOp {
  switch (op.type) {
    case 'put':
      return { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), ...(op.lease === undefined ? {} : { lease: op.lease }) } }
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key) } }
    case 'deletePrefix': {
      const range = Range.prefix(op.prefix)
      return { request_delete_range: { key: range.start, range_end: range.end } }
    }
    case 'get':
      return { request_range: { key: Buffer.from(op.key) } }
  }
}
