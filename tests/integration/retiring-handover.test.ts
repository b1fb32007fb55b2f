/**
 * A partition that moves to another worker hands over even the entities standing just past its
 * edge (inside the hysteresis band, so not yet handed off): they go to the partition's new owner,
 * not to the neighbour whose ground they stand on, which would refuse an offer from the retiring
 * runner's old epoch until the retiring grace ran out and the entity was lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../helpers/eventually.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

describe('a retiring partition', () => {
  // A short grace: without the fix the entity is lost when it ends.
  const world = new WorkerWorld('/retiring/', {
    game: () => createDemoGame({ walkerSpeed: [0, 0] }),
    worker: { reportIntervalMs: 100, retireGraceMs: 3_000 },
  })

  beforeAll(() => world.start())
  afterAll(() => world.stop())

  it('hands an entity standing past its edge to its own new owner, which keeps it', async () => {
    const { wA, wB } = world
    await world.createWorld()
    // 2 units into p2's ground: inside the 4-unit hysteresis band, so p1 keeps it.
    const id = wA.runner('w', 'p1')?.sim.spawnNpc({ x: 102, y: 50 }) as number
    for (let t = 0; t < 5; t++) await new Promise((r) => setTimeout(r, 50))
    expect(wA.runner('w', 'p1')?.sim.entity(id)).toBeDefined()

    await world.moveP1ToB()
    await eventually('wA handed p1 over and stopped it', () => wA.runner('w', 'p1') === undefined, 10_000)
    const holders = ['p1', 'p2'].filter((p) => wB.runner('w', p)?.sim.entity(id) !== undefined)
    expect(holders).toHaveLength(1)
    expect(wB.border.offersOut()).toEqual([])
  })
})
