/**
 * Two workers in one process over a real gRPC link, and a burst: hundreds of entities cross the
 * border in the same few ticks. Every one ends simulated by the other worker exactly once, none is
 * lost or duplicated on the way, and no more of them than the per-peer bound are ever held in
 * offers (simulated nowhere) at once: the rest keep walking where they are until their turn.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Game } from '../../worker/game/types.ts'
import { DEFAULT_HANDOFF } from '../../worker/handoff/machine.ts'
import type { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

const BURST = 600
/** Where the walkers stop, well inside p2 and away from the ghost margin. */
const STOP_X = 140

/** NPCs walk east until `STOP_X`, then stand. */
const eastward: Game<{ go: boolean }, never> = {
  name: 'eastward',
  spawn: (_ctx, spec) => ({ x: spec.x ?? 90, y: spec.y ?? 50, state: { go: true } }),
  input: () => undefined,
  tick: (ctx, dt) => {
    for (const e of ctx.entities()) {
      e.vx = e.x < STOP_X ? 40 : 0
      e.x += e.vx * dt
    }
  },
  leave: () => undefined,
  message: () => undefined,
  wire: (_e, out) => {
    out.kind = 1
  },
}

describe('a burst of crossings over one link', () => {
  const world = new WorkerWorld('/burst/', { game: () => eastward, worker: { reportIntervalMs: 200 } })
  let wA: Worker<{ go: boolean }, never>
  let wB: Worker<{ go: boolean }, never>

  beforeAll(async () => {
    await world.start()
    await world.createWorld()
    ;({ wA, wB } = world)
  })

  afterAll(() => world.stop())

  /** Where each entity is now: simulated by a partition, or held in an offer not accepted yet. */
  function census(): { where: Map<number, string[]> } {
    const where = new Map<number, string[]>()
    const add = (id: number, who: string) => where.set(id, [...(where.get(id) ?? []), who])
    for (const w of [wA, wB]) for (const p of ['p1', 'p2']) for (const e of w.runner('w', p)?.sim.allEntities() ?? []) add(e.id, `${w.id}/${p}`)
    for (const o of wA.border.offersOut()) if (!wB.border.accepted(o.handoffId)) add(o.entityId, 'wA/offer')
    return { where }
  }

  it('hands every entity of the burst over exactly once, never holding more than the bound in offers', async () => {
    const p1 = wA.runner('w', 'p1')
    // All just past the hysteresis band: every one is due for an offer at the same tick.
    for (let i = 0; i < BURST; i++) p1?.sim.spawnNpc({ x: 104.5 + (i % 3) / 10, y: 1 + (i * 97) % 98 })
    await eventually('every walker simulated by wB', () => {
      const { where } = census()
      expect(where.size, 'entities conserved').toBe(BURST)
      for (const [id, who] of where) expect(who, `owners of entity ${id}`).toHaveLength(1)
      // ...and every reply taken in by the sender.
      return [...where.values()].every((who) => who[0] === 'wB/p2') && wA.border.offersOut().length === 0
    }, 30_000, 5)
    // The whole burst was due at once; the bound made it wait its turn.
    expect(wA.border.stats.offersWaitingPeak).toBe(DEFAULT_HANDOFF.maxOffersPerPeer)
    expect(wB.border.stats.handoffsIn).toBe(BURST)
  })
})
