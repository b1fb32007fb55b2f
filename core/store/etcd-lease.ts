/**
 * A lease on etcd, over etcd3's `Lease` (which renews it on a keep-alive stream every third of the
 * TTL). `lost` resolves when any of these happens first:
 * - etcd3 reports the lease lost (etcd answered that it expired);
 * - no keep-alive succeeded for a whole TTL (etcd3 itself waits two TTLs, by which time etcd has
 *   long deleted our keys);
 * - without keep-alive: etcd reports the lease gone after its TTL;
 * - `revoke()`, `release()` or the store closing.
 */
import type { Etcd3, Lease as Etcd3Lease } from 'etcd3'
import type { Logger } from '../log.ts'
import { castEtcdError } from './errors.ts'
import type { Lease, LeaseId } from './types.ts'

// How often a lease without keep-alive asks etcd whether it still exists once its TTL has passed.
const EXPIRY_POLL_MS = 250

export class EtcdLease implements Lease {
  readonly lost: Promise<void>
  private resolveLost!: () => void
  private lostFlag = false
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    readonly id: LeaseId,
    readonly ttlSeconds: number,
    private readonly client: Etcd3,
    private readonly inner: Etcd3Lease,
    keepAlive: boolean,
    private readonly logger: Logger | undefined,
    private readonly onEnd: (lease: EtcdLease) => void,
  ) {
    this.lost = new Promise((resolve) => {
      this.resolveLost = resolve
    })
    inner.on('lost', (err) => {
      this.logger?.warn({ err, lease: id }, 'lease lost')
      this.end()
    })
    if (keepAlive) {
      this.armWatchdog()
      inner.on('keepaliveSucceeded', () => this.armWatchdog())
    } else {
      this.timer = setTimeout(() => this.pollExpiry(), ttlSeconds * 1000)
    }
  }

  get isLost(): boolean {
    return this.lostFlag
  }

  async revoke(): Promise<void> {
    if (this.lostFlag) return
    try {
      await this.inner.revoke()
    } catch (err) {
      // etcd3 stopped the keep-alive before failing: the lease ends by itself within its TTL.
      throw castEtcdError(err)
    } finally {
      this.end()
    }
  }

  /** Stop renewing without revoking: etcd deletes the keys when the TTL runs out. */
  release(): void {
    if (this.lostFlag) return
    this.inner.release()
    this.end()
  }

  private armWatchdog(): void {
    if (this.lostFlag) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.logger?.warn({ lease: this.id, ttlSeconds: this.ttlSeconds }, 'no keep-alive for a whole TTL: lease lost')
      this.inner.release()
      this.end()
    }, this.ttlSeconds * 1000)
  }

  private pollExpiry(): void {
    if (this.lostFlag) return
    this.client.leaseClient
      .leaseTimeToLive({ ID: this.id })
      .then((res) => {
        // -1: gone. 0: under a second left, keys still there.
        const remaining = Number(res.TTL)
        if (remaining < 0) this.end()
        else this.timer = setTimeout(() => this.pollExpiry(), Math.max(EXPIRY_POLL_MS, remaining * 1000))
      })
      .catch((err: unknown) => {
        const error = castEtcdError(err)
        if (error.code === 'lease_expired') return this.end()
        this.timer = setTimeout(() => this.pollExpiry(), EXPIRY_POLL_MS)
      })
  }

  private end(): void {
    if (this.lostFlag) return
    this.lostFlag = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.inner.removeAllListeners('keepaliveSucceeded')
    this.resolveLost()
    this.onEnd(this)
  }
}
