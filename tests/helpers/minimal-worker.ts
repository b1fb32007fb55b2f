/**
 * A worker without a simulation, for coordinator tests: it registers with a lease, follows the
 * partition maps, and streams load reports for the leaves it owns to the leader over real gRPC, with
 * a load the test sets per partition. Everything but the simulation is the real worker's code.
 */
import type { Rect } from '../../core/geometry.ts'
import { leaves } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { decodeMap } from '../../core/partition-map.ts'
import { PrefixCache } from '../../core/prefix-cache.ts'
import { silentLogger } from '../../core/log.ts'
import type { Keys } from '../../core/store/keys.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { LoadReporter } from '../../worker/load-reporter.ts'
import type { LoadSnapshot } from '../../worker/load-reporter.ts'
import { Membership } from '../../worker/membership.ts'

export interface MinimalWorkerOptions {
  id: string
  capacity?: number
  ttlSeconds?: number
  reportIntervalMs?: number
  /** Load of a partition this worker owns, ms/s. Default 10. */
  loadOf?: (worldId: string, partitionId: string, rect: Rect) => number
  /** Keep reporting a partition for this long after its map disappears (as a real worker does). */
  keepOrphansMs?: number
}

export class MinimalWorker {
  readonly membership: Membership
  readonly reporter: LoadReporter
  private readonly maps: PrefixCache<PartitionMap>
  /** Partitions last seen owned, kept through a map's disappearance for `keepOrphansMs`. */
  private readonly owned = new Map<string, { map: PartitionMap; leafId: string; since: number; orphanedAt?: number }>()

  constructor(store: ClusterStore, keys: Keys, private readonly options: MinimalWorkerOptions) {
    const logger = silentLogger()
    this.membership = new Membership({
      store, keys, logger, ttlSeconds: options.ttlSeconds ?? 3,
      record: {
        id: options.id, grpcAddress: `127.0.0.1:1`, clientUrl: `http://127.0.0.1:1`, capacity: options.capacity ?? 1000,
        version: 'test', labels: {}, draining: false, startedAt: Date.now(),
      },
    })
    this.maps = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfMap(key) === undefined ? undefined : decodeMap(value)),
    })
    this.reporter = new LoadReporter({
      store, keys, workerId: options.id, intervalMs: options.reportIntervalMs ?? 200, logger,
      collect: () => this.snapshot(),
    })
  }

  async start(): Promise<void> {
    await this.membership.start()
    await this.maps.start()
    this.reporter.start()
  }

  async stop(): Promise<void> {
    await this.reporter.stop()
    await this.maps.stop()
    await this.membership.stop()
  }

  /** Stop without revoking the lease, as a killed process would: the lease must expire. */
  async crash(): Promise<void> {
    this.membership.abandon()
    await this.reporter.stop()
    await this.maps.stop()
  }

  /** Partition ids this worker owns now, as `world:partition`. */
  ownedPartitions(): string[] {
    this.refresh()
    return [...this.owned.keys()].sort()
  }

  private refresh(): void {
    const now = Date.now()
    const present = new Set<string>()
    for (const { value: map } of this.maps.values()) {
      for (const { leaf } of leaves(map)) {
        const id = `${map.worldId}:${leaf.id}`
        if (leaf.owner === this.options.id) {
          present.add(id)
          const prev = this.owned.get(id)
          this.owned.set(id, { map, leafId: leaf.id, since: prev?.since ?? now })
        }
      }
    }
    for (const [id, entry] of this.owned) {
      if (present.has(id)) continue
      const mapGone = ![...this.maps.values()].some((e) => e.value.worldId === entry.map.worldId)
      if (mapGone && this.options.keepOrphansMs) {
        entry.orphanedAt ??= now
        if (now - entry.orphanedAt < this.options.keepOrphansMs) continue
      }
      this.owned.delete(id)
    }
  }

  private snapshot(): LoadSnapshot {
    this.refresh()
    const partitions = [...this.owned.values()].flatMap(({ map, leafId }) => {
      const info = leaves(map).find((l) => l.leaf.id === leafId)
      if (!info) return []
      const load = this.options.loadOf?.(map.worldId, leafId, info.rect) ?? 10
      return [{
        partition: { worldId: map.worldId, partitionId: leafId, epoch: info.leaf.epoch },
        tickCostMs: load, tickMsMean: 1, tickMsP99: 2, entities: Math.round(load), clients: 0, bytesOutPerS: 0,
        summary: [{ rect: info.rect, weight: load }], overruns: 0, tick: 0,
        bounds: info.rect, worldBounds: map.bounds, worldKind: 'world',
      }]
    })
    return { partitions, rooms: [] }
  }
}
