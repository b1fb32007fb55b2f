/**
 * A worker's membership: its record under `workers/{id}`, attached to a lease it keeps alive. If the
 * lease is lost (the store was unreachable for a whole TTL), the coordinator has already given the
 * worker's partitions away; the worker registers again with a fresh lease and is told so through
 * `onRejoin`, so it can drop partitions whose epoch moved on.
 */
import type { Logger } from '../core/log.ts'
import { decodeRecord, workerRecordSchema } from '../core/records.ts'
import type { WorkerRecord } from '../core/records.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore, Lease } from '../core/store/types.ts'

export interface MembershipOptions {
  store: ClusterStore
  keys: Keys
  record: WorkerRecord
  /** Lease TTL in seconds. Default 3. */
  ttlSeconds?: number
  logger: Logger
  /** Called after the worker registered again following a lost lease. */
  onRejoin?: () => void
}

export class Membership {
  private lease: Lease | undefined
  private stopped = false
  private record: WorkerRecord

  constructor(private readonly options: MembershipOptions) {
    this.record = { ...options.record }
  }

  get draining(): boolean {
    return this.record.draining
  }

  get leaseId(): string | undefined {
    return this.lease?.id
  }

  async start(): Promise<void> {
    await this.register()
  }

  /** Mark the worker draining (SIGTERM, or an operator): the planner empties it. */
  async setDraining(draining: boolean): Promise<void> {
    this.record = { ...this.record, draining }
    await this.write()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.lease?.revoke().catch(() => undefined)
  }

  /** Stop renewing without deregistering: the record disappears when the lease's TTL runs out. */
  abandon(): void {
    this.stopped = true
    this.lease?.release()
  }

  private async register(): Promise<void> {
    const { store, ttlSeconds = 3, logger } = this.options
    this.lease = await store.grantLease(ttlSeconds)
    await this.write()
    const lease = this.lease
    void lease.lost.then(() => {
      if (this.stopped) return
      logger.warn({ lease: lease.id }, 'worker lease lost; registering again')
      this.rejoin()
    })
  }

  private rejoin(attempt = 0): void {
    if (this.stopped) return
    this.register().then(
      () => this.options.onRejoin?.(),
      (err: unknown) => {
        this.options.logger.warn({ err, attempt }, 'registering again failed; retrying')
        setTimeout(() => this.rejoin(attempt + 1), Math.min(2_000, 100 * 2 ** attempt)).unref()
      },
    )
  }

  /**
   * Put the record, keeping a draining flag an operator set in the store meanwhile (the worker's own
   * copy would otherwise undo the operator's drain).
   */
  private async write(): Promise<void> {
    const { store, keys } = this.options
    const key = keys.worker(this.record.id)
    const current = await store.get(key)
    if (current) {
      try {
        if (decodeRecord(workerRecordSchema, key, current.value).draining) this.record = { ...this.record, draining: true }
      } catch {
        // Unreadable record: ours replaces it.
      }
    }
    if (!this.lease) throw new Error('no lease')
    await store.put(key, JSON.stringify(this.record), { lease: this.lease.id })
  }
}
