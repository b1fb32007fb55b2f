/**
 * Leader election on any `ClusterStore` (etcd's recipe, written once for both stores).
 *
 * Each candidate puts `{name}/{leaseId}` attached to its lease. The candidate whose key has the
 * lowest createRevision leads; every other candidate watches only the key just before its own
 * (its predecessor) for deletion, so a leader change wakes one candidate, not all of them. A
 * leader stays leader until its key disappears: it resigns, its lease ends, or someone deletes it.
 */
import type { Logger } from '../log.ts'
import { ConflictError, LeaseExpiredError, StoreAbortedError, StoreError } from './errors.ts'
import type { ClusterStore, KeyValue, Lease, Watch } from './types.ts'

/** What a candidate holds once it leads. */
export interface Leadership {
  /** The leader's key, `{name}/{leaseId}`. */
  readonly key: string
  /** createRevision of the leader's key: grows with every new leadership term. */
  readonly revision: number
  /** Resolves when leadership ends: resigned, the lease ended, or the key was deleted. */
  readonly lost: Promise<void>
  readonly isLost: boolean
  /** Step down: delete the key so the next candidate leads. Idempotent. */
  resign(): Promise<void>
  /** Change the value announced to observers. Throws `ConflictError` if no longer leader. */
  proclaim(value: string): Promise<void>
}

/** A handle on an `observe` subscription. */
export type Observation = Watch

export class Election {
  /** Prefix of the candidates' keys: `{name}/`. */
  readonly prefix: string

  /**
   * @param store the cluster store
   * @param name election key, e.g. `keys.leader()`; candidates live below `{name}/`
   * @param logger optional; debug lines on leadership changes
   */
  constructor(
    private readonly store: ClusterStore,
    readonly name: string,
    private readonly logger?: Logger,
  ) {
    this.prefix = `${name}/`
  }

  /**
   * Become a candidate and resolve once leading. Rejects with `LeaseExpiredError` if the lease
   * ends first, or `StoreAbortedError` if `signal` aborts (the candidacy is withdrawn then).
   * Campaigning again with the same lease updates the value and keeps the place in line.
   */
  async campaign(value: string, lease: Lease, signal?: AbortSignal): Promise<Leadership> {
    if (lease.isLost) throw new LeaseExpiredError(`lease ${lease.id} already ended`)
    if (signal?.aborted) throw new StoreAbortedError('campaign aborted')
    const key = `${this.prefix}${lease.id}`
    const res = await this.store.txn({
      compare: [{ key, target: 'createRevision', op: '==', value: 0 }],
      success: [{ type: 'put', key, value, lease: lease.id }],
      failure: [
        { type: 'get', key },
        { type: 'put', key, value, lease: lease.id },
      ],
    })
    const revision = res.succeeded ? res.revision : (res.reads[0]?.createRevision ?? res.revision)
    try {
      const seenAt = await this.waitForTurn(key, revision, lease, signal)
      this.logger?.debug({ election: this.name, key, revision }, 'elected')
      return new StoreLeadership(this.store, key, revision, lease, seenAt)
    } catch (err) {
      // Withdraw, unless the key is gone anyway (lease ended).
      if (!lease.isLost) {
        await this.store
          .txn({ compare: [{ key, target: 'createRevision', op: '==', value: revision }], success: [{ type: 'delete', key }] })
          .catch((cleanupErr: unknown) => this.logger?.warn({ err: cleanupErr, key }, 'withdrawing a candidacy failed'))
      }
      throw err
    }
  }

  /** The current leader's value, or undefined when nobody leads. */
  async leader(): Promise<string | undefined> {
    const { kvs } = await this.store.range(this.prefix)
    return lowest(kvs)?.value
  }

  /**
   * Call `onLeader` with the leader's value now and whenever it changes (undefined: no leader).
   * `onError` receives failures that end the observation.
   */
  observe(onLeader: (leaderValue: string | undefined) => void, onError?: (err: Error) => void): Observation {
    const candidates = new Map<string, KeyValue>()
    let reported: { value: string | undefined } | undefined
    let watch: Watch | undefined
    let cancelled = false
    const report = (): void => {
      const value = lowest([...candidates.values()])?.value
      if (cancelled || (reported && reported.value === value)) return
      reported = { value }
      onLeader(value)
    }
    const ready = (async () => {
      const { kvs, revision } = await this.store.range(this.prefix)
      if (cancelled) return
      for (const kv of kvs) candidates.set(kv.key, kv)
      report()
      watch = this.store.watch(this.prefix, {
        fromRevision: revision + 1,
        onEvents: (events) => {
          for (const event of events) {
            if (event.type === 'put') candidates.set(event.kv.key, event.kv)
            else candidates.delete(event.key)
          }
          report()
        },
        onError: (err) => onError?.(err),
      })
      await watch.ready
    })()
    ready.catch((err: unknown) => onError?.(err instanceof Error ? err : new StoreError('internal', String(err))))
    return {
      ready,
      cancel: async () => {
        cancelled = true
        await watch?.cancel()
      },
    }
  }

  /** Wait until no candidate precedes `key`; returns the revision at which that was seen. */
  private async waitForTurn(key: string, revision: number, lease: Lease, signal: AbortSignal | undefined): Promise<number> {
    for (;;) {
      if (lease.isLost) throw new LeaseExpiredError(`lease ${lease.id} ended while campaigning`)
      if (signal?.aborted) throw new StoreAbortedError('campaign aborted')
      const { kvs, revision: seenAt } = await this.store.range(this.prefix)
      if (!kvs.some((kv) => kv.key === key)) throw new ConflictError(`candidate key ${key} disappeared while campaigning`)
      const earlier = kvs.filter((kv) => kv.createRevision < revision)
      if (earlier.length === 0) return seenAt
      const predecessor = earlier.reduce((a, b) => (b.createRevision > a.createRevision ? b : a))
      await this.waitForDelete(predecessor.key, seenAt + 1, lease, signal)
    }
  }

  /** Resolve when `key` is deleted at or after `fromRevision`; reject on lease loss or abort. */
  private waitForDelete(key: string, fromRevision: number, lease: Lease, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false
      const finish = (err?: Error): void => {
        if (done) return
        done = true
        signal?.removeEventListener('abort', onAbort)
        void watch.cancel()
        if (err) reject(err)
        else resolve()
      }
      const onAbort = (): void => finish(new StoreAbortedError('campaign aborted'))
      const watch = this.store.watch(key, {
        fromRevision,
        // The watch is by prefix: other keys may share this one's beginning.
        onEvents: (events) => {
          if (events.some((e) => e.type === 'delete' && e.key === key)) finish()
        },
        onError: (err) => finish(err),
      })
      signal?.addEventListener('abort', onAbort)
      // An abort that came while the caller was still reading the candidates fired no event here.
      if (signal?.aborted) onAbort()
      lease.lost.then(
        () => finish(new LeaseExpiredError(`lease ${lease.id} ended while campaigning`)),
        () => undefined,
      )
    })
  }
}

/** The candidate with the lowest createRevision: the leader. */
function lowest(kvs: KeyValue[]): KeyValue | undefined {
  let best: KeyValue | undefined
  for (const kv of kvs) if (!best || kv.createRevision < best.createRevision) best = kv
  return best
}

class StoreLeadership implements Leadership {
  readonly lost: Promise<void>
  private resolveLost!: () => void
  private lostFlag = false
  private readonly watch: Watch

  constructor(
    private readonly store: ClusterStore,
    readonly key: string,
    readonly revision: number,
    private readonly lease: Lease,
    seenAt: number,
  ) {
    this.lost = new Promise((resolve) => {
      this.resolveLost = resolve
    })
    // The key existed at `seenAt`; any later delete of it ends the leadership.
    this.watch = store.watch(key, {
      fromRevision: seenAt + 1,
      onEvents: (events) => {
        if (events.some((e) => e.type === 'delete' && e.key === key)) this.end()
      },
      onError: () => this.end(),
    })
    lease.lost.then(
      () => this.end(),
      () => undefined,
    )
  }

  get isLost(): boolean {
    return this.lostFlag
  }

  async resign(): Promise<void> {
    if (this.lostFlag) return
    try {
      await this.store.txn({
        compare: [{ key: this.key, target: 'createRevision', op: '==', value: this.revision }],
        success: [{ type: 'delete', key: this.key }],
      })
    } finally {
      this.end()
    }
  }

  async proclaim(value: string): Promise<void> {
    if (this.lostFlag) throw new ConflictError(`no longer leader (${this.key})`)
    const res = await this.store.txn({
      compare: [{ key: this.key, target: 'createRevision', op: '==', value: this.revision }],
      success: [{ type: 'put', key: this.key, value, lease: this.lease.id }],
    })
    if (!res.succeeded) {
      this.end()
      throw new ConflictError(`no longer leader (${this.key})`)
    }
  }

  private end(): void {
    if (this.lostFlag) return
    this.lostFlag = true
    void this.watch.cancel()
    this.resolveLost()
  }
}
