/**
 * Watches every partition map from the start of a test and records any revision that breaks the
 * invariants: leaves tile the world, every leaf has one owner field, and a leaf id's epoch never goes
 * down from one observed revision to the next.
 */
import { decodeMap, leaves, validateMap } from '../../core/partition-map.ts'
import type { Keys } from '../../core/store/keys.ts'
import type { ClusterStore, Watch } from '../../core/store/types.ts'

export class MapAudit {
  readonly violations: string[] = []
  /** Map revisions seen, per world. */
  readonly versionsSeen = new Map<string, number>()
  private readonly epochs = new Map<string, number>()
  private watch: Watch | undefined

  constructor(private readonly store: ClusterStore, private readonly keys: Keys) {}

  async start(): Promise<void> {
    const { revision } = await this.store.range(this.keys.worlds())
    this.watch = this.store.watch(this.keys.worlds(), {
      fromRevision: revision + 1,
      onEvents: (events) => {
        for (const e of events) {
          if (e.type !== 'put') continue
          const worldId = this.keys.worldIdOfMap(e.kv.key)
          if (worldId === undefined) continue
          this.check(worldId, e.kv.value, e.revision)
        }
      },
    })
    await this.watch.ready
  }

  async stop(): Promise<void> {
    await this.watch?.cancel()
  }

  private check(worldId: string, json: string, revision: number): void {
    let map
    try {
      map = decodeMap(json)
    } catch (err) {
      this.violations.push(`r${revision} ${worldId}: undecodable map: ${(err as Error).message}`)
      return
    }
    this.versionsSeen.set(worldId, (this.versionsSeen.get(worldId) ?? 0) + 1)
    for (const problem of validateMap(map)) this.violations.push(`r${revision} ${worldId}: ${problem}`)
    for (const { leaf } of leaves(map)) {
      const key = `${worldId}:${leaf.id}`
      const prev = this.epochs.get(key)
      if (prev !== undefined && leaf.epoch < prev) this.violations.push(`r${revision} ${key}: epoch went back ${prev} → ${leaf.epoch}`)
      this.epochs.set(key, Math.max(prev ?? 0, leaf.epoch))
    }
  }
}
