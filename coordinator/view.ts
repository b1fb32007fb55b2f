/**
 * The coordinator's live view of the store: workers, world specs and partition maps, each a
 * watched prefix. Every coordinator keeps it warm, leader or not, so a standby can lead at once.
 */
import type { Logger } from '../core/log.ts'
import { decodeMap } from '../core/partition-map.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import { PrefixCache } from '../core/prefix-cache.ts'
import type { CacheEntry } from '../core/prefix-cache.ts'
import { decodeRecord, workerRecordSchema, worldSpecSchema } from '../core/records.ts'
import type { WorkerRecord, WorldSpec } from '../core/records.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'

export class ClusterView {
  readonly workers: PrefixCache<WorkerRecord>
  readonly worlds: PrefixCache<WorldSpec>
  readonly maps: PrefixCache<PartitionMap>

  constructor(store: ClusterStore, private readonly keys: Keys, logger: Logger) {
    this.workers = new PrefixCache({
      store,
      prefix: keys.workers(),
      logger,
      decode: (key, value) => decodeRecord(workerRecordSchema, key, value),
    })
    this.worlds = new PrefixCache({
      store,
      prefix: keys.worlds(),
      logger,
      decode: (key, value) => (keys.worldIdOfSpec(key) === undefined ? undefined : decodeRecord(worldSpecSchema, key, value)),
    })
    this.maps = new PrefixCache({
      store,
      prefix: keys.worlds(),
      logger,
      decode: (key, value) => (keys.worldIdOfMap(key) === undefined ? undefined : decodeMap(value)),
    })
  }

  async start(): Promise<void> {
    await Promise.all([this.workers.start(), this.worlds.start(), this.maps.start()])
  }

  async stop(): Promise<void> {
    await Promise.all([this.workers.stop(), this.worlds.stop(), this.maps.stop()])
  }

  worker(id: string): WorkerRecord | undefined {
    return this.workers.get(this.keys.worker(id))?.value
  }

  liveWorkers(): WorkerRecord[] {
    return [...this.workers.values()].map((e) => e.value)
  }

  world(id: string): WorldSpec | undefined {
    return this.worlds.get(this.keys.world(id))?.value
  }

  allWorlds(): WorldSpec[] {
    return [...this.worlds.values()].map((e) => e.value)
  }

  map(worldId: string): CacheEntry<PartitionMap> | undefined {
    return this.maps.get(this.keys.worldMap(worldId))
  }
}
