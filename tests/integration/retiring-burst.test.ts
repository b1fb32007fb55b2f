/**
 * A partition that moves to another worker holding thousands of entities, many times what may be
 * on offer at once for crossings (`maxOffersPerPeer`). Its old owner freezes it after a tick and
 * ships everything in one transfer; the new owner takes it all in at one tick boundary: at no
 * instant do the two workers each simulate part of it. With no retiring grace at all, the old
 * runner still keeps going until the last entity is taken, rather than stop and drop them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_HANDOFF } from '../../worker/handoff/machine.ts'
import { eventually } from '../helpers/eventually.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

/** Many times the per-peer bound on crossing offers. */
const ENTITIES = 4_000

describe('a retiring partition holding thousands of entities', () => {
  const world = new WorkerWorld('/retiring-burst/', {
    game: () => createDemoGame({ walkerSpeed: [0, 0] }),
    worker: { reportIntervalMs: 100, retireGraceMs: 0 },
  })

  beforeAll(() => world.start())
  afterAll(() => world.stop())

  it('is shipped whole and taken in at one tick boundary, none lost or doubled', async () => {
    const { wA, wB } = world
    await world.createWorld()
    const p1 = wA.runner('w', 'p1')
    const ids = new Set<number>()
    for (let i = 0; i < ENTITIES; i++) ids.add(p1?.sim.spawnNpc({ x: 5 + (i % 90), y: 5 + Math.floor(i / 90) * 2 }) as number)
    expect(ids.size).toBe(ENTITIES)
    expect(ENTITIES).toBeGreaterThan(10 * DEFAULT_HANDOFF.maxOffersPerPeer)

    // Between any two event-loop tasks, so always at a tick boundary of both workers: how much of
    // p1 each simulates.
    const seen = new Set<string>()
    const sample = () => seen.add(`${wA.runner('w', 'p1')?.sim.entityCount ?? 0}/${wB.runner('w', 'p1')?.sim.entityCount ?? 0}`)
    const sampler = setInterval(sample, 1)
    try {
      await world.moveP1ToB()
      await eventually('wA handed p1 over and stopped it', () => wA.runner('w', 'p1') === undefined, 30_000, 20)
    } finally {
      clearInterval(sampler)
    }
    sample()
    // All of it on wA (before, or taken back after a refusal), in flight (neither), or all on wB.
    expect([...seen].filter((s) => !['4000/0', '0/0', '0/4000'].includes(s)), 'p1 split between the workers').toEqual([])
    expect(seen).toContain('0/4000')
    expect(wA.border.stats.transfersOut).toBeGreaterThanOrEqual(1)
    expect(wB.border.stats.transfersIn).toBe(wA.border.stats.transfersOut)
    expect(wB.border.stats.handoffsIn).toBe(ENTITIES)

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
  })
})
