/**
 * Entity ids of a world come from one counter in the cluster store, a block at a time: whatever
 * the interleaving of workers reserving and partitions spawning, no id is handed out twice, and a
 * partition's new owner (a move, or a failover after its worker crashed) never gives a new entity
 * the id of one its predecessor spawned.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { MemoryStore } from '../../core/store/memory.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { EntityIdBlocks, ID_BLOCK, ID_BLOCKS } from '../../worker/entity-ids.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'
import { EntityIdsUnavailable, Simulation } from '../../worker/simulation.ts'

const keys = scopedKeys('/ids/')
const blocks = (store: ClusterStore, spare?: number) => new EntityIdBlocks({ store, keys, logger: silentLogger(), ...(spare ? { spare } : {}) })

describe('entity ids of a world', () => {
  it('never hands out an id twice, whatever workers and partitions interleave', async () => {
    // A step: a worker reserves blocks, or one of its partitions spawns a few entities.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('fill' as const), worker: fc.nat(2) }),
      fc.record({ kind: fc.constant('spawn' as const), worker: fc.nat(2), partition: fc.nat(3), n: fc.integer({ min: 1, max: 700 }) }),
    )
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
      const store = new MemoryStore()
      const workers = [blocks(store, 2), blocks(store, 2), blocks(store, 2)]
      await Promise.all(workers.map((w) => w.fill('w')))
      const sources = workers.map((w) => Array.from({ length: 4 }, () => w.source('w')))
      const seen = new Set<number>()
      const pending: Promise<void>[] = []
      for (const s of steps) {
        if (s.kind === 'fill') {
          // Not awaited: reservations race each other and the spawns.
          pending.push((workers[s.worker] as EntityIdBlocks).fill('w'))
          continue
        }
        const source = sources[s.worker]?.[s.partition]
        for (let i = 0; i < s.n; i++) {
          let id = source?.next()
          while (id === undefined) {
            // This worker's blocks ran out before its reservation came back: wait for it.
            await (workers[s.worker] as EntityIdBlocks).fill('w')
            id = source?.next()
          }
          expect(id).toBeGreaterThanOrEqual(1)
          expect(id).toBeLessThanOrEqual(2 ** 30)
          expect(seen.has(id)).toBe(false)
          seen.add(id)
        }
      }
      await Promise.all(pending)
      await store.close()
    }), { numRuns: 60 })
  })

  it('reserves enough blocks for a partition that starts with more ids than the spares hold', async () => {
    const store = new MemoryStore()
    const w = blocks(store, 2)
    await w.fill('w')
    // Two spare blocks: not enough for 3,000 NPCs and a player.
    expect(w.ready('w', 3_001)).toBe(false)
    await w.fill('w', 3_001)
    expect(w.ready('w', 3_001)).toBe(true)
    const source = w.source('w')
    const ids = new Set<number>()
    for (let i = 0; i < 3_001; i++) ids.add(source.next() ?? -1)
    expect(ids.size).toBe(3_001)
    expect(ids.has(-1)).toBe(false)
    await store.close()
  })

  it('starts a partition with fewer NPCs, not at all, when its ids run out while it spawns them', () => {
    const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
    let left = 5
    const runner = new PartitionRunner({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
      game: createDemoGame(), seed: 1, tickRate: 20, interestRadius: 100, npcs: 50, logger: silentLogger(),
      ids: { next: () => (left-- > 0 ? 100 - left : undefined) },
    })
    expect(runner.sim.entityCount).toBe(5)
    runner.tick()
    expect(runner.sim.entityCount).toBe(5)
  })

  it('keeps one counter per world', async () => {
    const store = new MemoryStore()
    const w = blocks(store)
    await Promise.all([w.fill('a'), w.fill('b')])
    expect(w.source('a').next()).toBe(1)
    expect(w.source('b').next()).toBe(1)
    expect(w.source('a').next()).toBe(ID_BLOCK + 1)
    await store.close()
  })

  it('wraps after the last block the wire can carry', async () => {
    const store = new MemoryStore()
    await store.put(keys.entityIds('w'), String(ID_BLOCKS - 1))
    const w = blocks(store, 2)
    await w.fill('w')
    const source = w.source('w')
    expect(source.next()).toBe((ID_BLOCKS - 1) * ID_BLOCK + 1)
    for (let i = 1; i < ID_BLOCK; i++) source.next()
    expect(source.next()).toBe(1)
    expect((await store.get(keys.entityIds('w')))?.value).toBe('1')
    await store.close()
  })

  it('refuses to spawn rather than reuse an id when no block can be had', () => {
    const store = new MemoryStore()
    const w = blocks(store)
    // Nothing reserved yet (the store has not answered): the simulation cannot spawn.
    const sim = new Simulation({ game: createDemoGame(), seed: 1, bounds: { minX: 0, minY: 0, maxX: 10, maxY: 10 }, ids: w.source('w') })
    expect(() => sim.spawnNpc()).toThrow(EntityIdsUnavailable)
    expect(() => sim.addPlayer('p')).toThrow(EntityIdsUnavailable)
    expect(sim.entityCount).toBe(0)
  })

  it('gives a fresh owner of a partition ids its predecessor did not hand out', async () => {
    const store = new MemoryStore()
    const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
    const runner = async (epoch: number) => {
      const w = blocks(store)
      await w.fill('w')
      return new PartitionRunner({
        worldId: 'w', partitionId: 'p3', epoch, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
        game: createDemoGame(), seed: 1, tickRate: 20, interestRadius: 100, npcs: 1500, logger: silentLogger(), ids: w.source('w'),
      })
    }
    const ids = (r: PartitionRunner<unknown, unknown>) => [...r.sim.allEntities()].map((e) => e.id)
    const before = await runner(1)
    before.sim.addPlayer('alice')
    // Its worker dies; another worker takes the ground (epoch 2) and starts the partition afresh:
    // new walkers, and alice back as a new entity. Some of the old ones may live on elsewhere.
    const after = await runner(2)
    after.sim.addPlayer('alice')
    const old = new Set(ids(before as PartitionRunner<unknown, unknown>))
    expect(old.size).toBe(1501)
    expect(ids(after as PartitionRunner<unknown, unknown>).filter((id) => old.has(id))).toEqual([])
    await store.close()
  })
})
