/**
 * `Border.awaitingReplies`, which a worker keeps its event loop turning for after a tick: true from
 * the tick boundary that sent an offer to another worker until that offer's reply is taken in,
 * and never longer than to the next tick boundary.
 */
import { describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import { splitMap } from '../helpers/test-maps.ts'
import { borderOf, runner, twoWorkers } from '../helpers/two-borders.ts'

describe('awaiting replies', () => {
  it('from an offer to another worker until its reply', () => {
    const w = twoWorkers(createDemoGame({ walkerSpeed: [0, 0] }))
    // 6 units into p2, past the 4-unit band: offered to wB at the first tick boundary.
    w.p1.sim.spawnNpc({ x: 106, y: 50 })
    expect(w.a.awaitingReplies).toBe(false)
    w.step(false)
    expect(w.offers).toHaveLength(1)
    expect(w.a.awaitingReplies).toBe(true)
    expect(w.b.awaitingReplies).toBe(false)
    w.deliver()
    expect(w.a.awaitingReplies).toBe(false)
  })

  it('not past the next tick boundary, answered or not', () => {
    const w = twoWorkers(createDemoGame({ walkerSpeed: [0, 0] }))
    w.p1.sim.spawnNpc({ x: 106, y: 50 })
    w.step(false)
    expect(w.a.awaitingReplies).toBe(true)
    // wB is gone: the offer's frames go nowhere.
    w.dropFromA()
    w.a.beforeTick(2)
    expect(w.a.awaitingReplies).toBe(false)
  })

  it('not for an offer between two partitions of one worker', () => {
    // wB's own p1 and p2: the offer crosses no link and is answered at the next tick boundary.
    const runners: ReturnType<typeof runner>[] = []
    const { border, sent } = borderOf('wB', splitMap('wB', 1), runners)
    const p1 = runner('p1', createDemoGame({ walkerSpeed: [0, 0] }), border)
    const p2 = runner('p2', createDemoGame({ walkerSpeed: [0, 0] }), border)
    runners.push(p1, p2)
    const id = p1.sim.spawnNpc({ x: 106, y: 50 })
    border.beforeTick(1)
    p1.tick()
    p2.tick()
    border.afterTick()
    expect(border.offersOut().map((o) => o.entityId)).toEqual([id])
    expect(sent.filter((s) => s.frame.frame?.$case === 'handoff')).toEqual([])
    expect(border.awaitingReplies).toBe(false)
  })
})
