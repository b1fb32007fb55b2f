/**
 * A partition moved from wA to wB, and wA's map has the change before wB's does: wA ships the
 * partition whole at once, to a worker that does not know yet that it owns it. The offers wait for
 * wB's map (a bounded number of ticks) instead of being refused: before, every one was refused
 * `not_owner` and the whole partition went back to wA's simulation until the retry, a round trip
 * and five ticks later.
 */
import { describe, expect, it } from 'vitest'
import type { PartitionMap } from '../../core/partition-map.ts'
import type { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { DEFAULT_HANDOFF } from '../../worker/handoff/machine.ts'
import { borderOf, runner } from '../helpers/two-borders.ts'
import { splitMap } from '../helpers/test-maps.ts'

const ENTITIES = 300

function moved() {
  const game = createDemoGame({ walkerSpeed: [0, 0] })
  const onA: ReturnType<typeof runner>[] = []
  const onB: ReturnType<typeof runner>[] = []
  // wA already sees p1 on wB at epoch 2; wB still sees the map before the move.
  const a = borderOf('wA', splitMap('wB', 2), onA)
  const mapB: PartitionMap = splitMap('wA', 1)
  const b = borderOf('wB', mapB, onB)
  const p1 = runner('p1', game, a.border)
  const p2 = runner('p2', game, b.border)
  onA.push(p1)
  onB.push(p2)
  for (let i = 0; i < ENTITIES; i++) p1.sim.spawnNpc({ x: 10 + (i % 80), y: 10 + Math.floor(i / 80) * 10 })
  p1.retiringSince = 0
  let tick = 0
  const frames: NeighbourFrame[] = []
  const step = () => {
    tick++
    a.border.beforeTick(tick)
    b.border.beforeTick(tick)
    for (const r of [...onA, ...onB]) r.tick()
    a.border.afterTick()
    b.border.afterTick()
    while (a.sent.length + b.sent.length > 0) {
      const toB = a.sent.splice(0).filter((s) => s.peer === 'wB').map((s) => s.frame)
      frames.push(...toB)
      b.border.receive('wA', toB)
      a.border.receive('wB', b.sent.splice(0).filter((s) => s.peer === 'wA').map((s) => s.frame))
    }
  }
  /** wB's map catches up, and wB starts p1 at epoch 2. */
  const mapArrives = () => {
    Object.assign(mapB, splitMap('wB', 2))
    const p1OnB = runner('p1', game, b.border)
    p1OnB.options.epoch = 2
    onB.push(p1OnB)
    return p1OnB
  }
  return { a: a.border, b: b.border, p1, step, frames, mapArrives }
}

describe('a partition shipped to a worker whose map is behind', () => {
  it('waits for that map, then is taken in whole at one tick boundary, with no refusal', () => {
    const w = moved()
    w.step()
    expect(w.frames.filter((f) => f.frame?.$case === 'transfer')).toHaveLength(1)
    expect(w.p1.sim.entityCount).toBe(0)
    for (let t = 0; t < 3; t++) w.step()
    expect(w.b.stats.offersWaited).toBe(ENTITIES)
    expect(w.b.stats.refused).toEqual({})
    expect(w.a.offersOut()).toHaveLength(ENTITIES)
    const p1OnB = w.mapArrives()
    w.step()
    expect(p1OnB.sim.entityCount).toBe(ENTITIES)
    expect(w.b.stats.handoffsIn).toBe(ENTITIES)
    expect(w.b.stats.refused).toEqual({})
    expect(w.a.offersOut()).toEqual([])
    expect(w.p1.sim.entityCount).toBe(0)
  })

  it('is judged at once, not kept waiting, when the receiver\'s map is the newer one', () => {
    // wA (map version 1) offers an entity crossing into p2; wB's map (version 3) has merged p1 and
    // p2 into one leaf, so p2 is no leaf there at all, and wB's runner of p2 is retiring.
    const game = createDemoGame({ walkerSpeed: [0, 0] })
    const onA: ReturnType<typeof runner>[] = []
    const onB: ReturnType<typeof runner>[] = []
    const a = borderOf('wA', splitMap('wA', 1), onA)
    const merged: PartitionMap = { ...splitMap('wA', 1), version: 3, root: { kind: 'leaf', id: 'p0', owner: 'wB', epoch: 3 } }
    const b = borderOf('wB', merged, onB)
    const p1 = runner('p1', game, a.border)
    const p2 = runner('p2', game, b.border)
    p2.retiringSince = 0
    onA.push(p1)
    onB.push(p2)
    const id = p1.sim.spawnNpc({ x: 106, y: 50 })
    a.border.beforeTick(1)
    p1.tick()
    a.border.afterTick()
    b.border.beforeTick(1)
    b.border.receive('wA', a.sent.splice(0).filter((s) => s.peer === 'wB').map((s) => s.frame))
    expect(b.border.stats.offersWaited).toBe(0)
    expect(b.border.stats.refused).toEqual({ not_owner: 1 })
    a.border.receive('wB', b.sent.splice(0).filter((s) => s.peer === 'wA').map((s) => s.frame))
    expect(p1.sim.entity(id)).toBeDefined()
  })

  it('is refused once the wait runs out with the map still behind, and comes back to its old owner whole', () => {
    const w = moved()
    w.step()
    for (let t = 0; t < DEFAULT_HANDOFF.resendTicks; t++) w.step()
    // (Answers are counted, the sender's resends of the same offers included.)
    expect(Object.keys(w.b.stats.refused)).toEqual(['not_owner'])
    expect(w.b.stats.refused.not_owner).toBeGreaterThanOrEqual(ENTITIES)
    expect(w.p1.sim.entityCount).toBe(ENTITIES)
    expect(w.a.offersOut()).toEqual([])
    // ...and is shipped again, whole, once the map has arrived.
    const p1OnB = w.mapArrives()
    for (let t = 0; t < DEFAULT_HANDOFF.retryTicks + 2; t++) w.step()
    expect(p1OnB.sim.entityCount).toBe(ENTITIES)
    expect(w.p1.sim.entityCount).toBe(0)
  })
})
