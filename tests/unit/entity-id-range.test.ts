/**
 * Entity ids across owner changes. A partition's new owner (a move, or a failover after its worker
 * crashed) cannot know which ids the previous owner handed out to entities now living in other
 * partitions; each epoch numbers from its own slice of the partition's range, so a walker the dead
 * owner spawned and a walker the new owner spawns never share an id.
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { PartitionRunner, entityIdRange } from '../../worker/partition-runner.ts'

const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
const runner = (epoch: number, npcs: number) => new PartitionRunner({
  worldId: 'w', partitionId: 'p3', epoch, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
  game: createDemoGame(), seed: 1, tickRate: 20, interestRadius: 100, npcs, logger: silentLogger(),
})
const ids = (r: PartitionRunner<unknown, unknown>) => [...r.sim.allEntities()].map((e) => e.id)

describe('entity ids of a partition across owners', () => {
  it('gives a fresh owner of the same partition ids its predecessor did not hand out', () => {
    const before = runner(1, 50)
    before.sim.addPlayer('alice')
    // The partition's worker dies; the coordinator gives the ground to another worker (epoch 2),
    // which starts the partition afresh: new walkers, and alice back as a new entity.
    const after = runner(2, 50)
    after.sim.addPlayer('alice')
    const old = new Set(ids(before as PartitionRunner<unknown, unknown>))
    expect(ids(after as PartitionRunner<unknown, unknown>).filter((id) => old.has(id))).toEqual([])
  })

  it('keeps within the partition’s range, epoch 1 starting where it always did', () => {
    expect(entityIdRange('p3', 1)).toEqual({ first: 300_001, count: 100_000 })
    for (let epoch = 1; epoch <= 40; epoch++) {
      const { first, count } = entityIdRange('p3', epoch)
      expect(first).toBeGreaterThanOrEqual(300_001)
      expect(first + count).toBe(400_001)
    }
    // Consecutive owners never start at the same id.
    expect(entityIdRange('p3', 2).first).not.toBe(entityIdRange('p3', 1).first)
    expect(entityIdRange('p3', 17).first).toBe(300_001)
  })
})
