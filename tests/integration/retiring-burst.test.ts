/**
 * A partition that moves to another worker while it holds far more entities than may be on offer
 * at once (`maxOffersPerPeer`), with a retiring grace far shorter than the handover takes. Entities
 * wait their turn in the old owner's simulation; when the grace runs out the old runner must keep
 * going until the last of them is taken, not stop and drop them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_HANDOFF } from '../../worker/handoff/machine.ts'
import { eventually } from '../helpers/eventually.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

/** Many times the per-peer bound: the handover takes well over a second at 20 ticks a second. */
const ENTITIES = 4_000

describe('a retiring partition holding more entities than may be offered at once', () => {
  // A grace that ends long before the handover can: it must not cost a single entity.
  const world = new WorkerWorld('/retiring-burst/', {
    game: () => createDemoGame({ walkerSpeed: [0, 0] }),
    worker: { reportIntervalMs: 100, retireGraceMs: 100 },
  })

  beforeAll(() => world.start())
  afterAll(() => world.stop())

  it('keeps handing over past its grace until every entity is taken, none lost or doubled', async () => {
    const { wA } = world
    await world.createWorld()
    const p1 = wA.runner('w', 'p1')
    const ids = new Set<number>()
    for (let i = 0; i < ENTITIES; i++) ids.add(p1?.sim.spawnNpc({ x: 5 + (i % 90), y: 5 + Math.floor(i / 90) * 2 }) as number)
    expect(ids.size).toBe(ENTITIES)

    await world.moveP1ToB()
    await eventually('wA handed p1 over and stopped it', () => wA.runner('w', 'p1') === undefined, 30_000, 20)
    const where = new Map<number, string[]>()
    for (const w of [world.wA, world.wB]) {
      for (const p of ['p1', 'p2']) for (const e of w.runner('w', p)?.sim.allEntities() ?? []) where.set(e.id, [...(where.get(e.id) ?? []), `${w.id}/${p}`])
    }
    const missing = [...ids].filter((id) => !where.has(id))
    expect(missing, 'entities lost').toEqual([])
    const doubled = [...where].filter(([, who]) => who.length > 1)
    expect(doubled, 'entities simulated twice').toEqual([])
    expect([...ids].every((id) => where.get(id)?.[0] === 'wB/p1')).toBe(true)
    expect(wA.border.offersOut()).toEqual([])
    // The handover was paced: never more than the bound on offer at once, so it outlived the grace.
    expect(wA.border.stats.offersWaitingPeak).toBe(DEFAULT_HANDOFF.maxOffersPerPeer)
  })
})
