/**
 * Workers number ticks on the cluster's clock, so an offer is made at a tick its receiver has
 * reached. One made further ahead says the two machines' clocks disagree: the entity is still
 * taken in (authority must not hang on clocks), and the receiver says so, once per peer.
 */
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { PartitionRunner } from '../../worker/partition-runner.ts'
import { borderOf, runner } from '../helpers/two-borders.ts'
import { splitMap } from '../helpers/test-maps.ts'

type AnyRunner = PartitionRunner<unknown, unknown>

function clocksApart(behind: number) {
  const warnings: Array<{ msg: string; peer?: string }> = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as { msg: string; peer?: string }) })
  const game = createDemoGame({ walkerSpeed: [0, 0] })
  const onA: AnyRunner[] = []
  const onB: AnyRunner[] = []
  const a = borderOf('wA', splitMap('wA', 1), onA)
  const b = borderOf('wB', splitMap('wA', 1), onB, 16, new Set(['wA', 'wB']), { logger })
  const p1 = runner('p1', game, a.border)
  const p2 = runner('p2', game, b.border)
  onA.push(p1)
  onB.push(p2)
  let tick = 1000
  const step = () => {
    tick++
    a.border.beforeTick(tick)
    b.border.beforeTick(tick - behind)
    p1.tick()
    p2.tick()
    a.border.afterTick()
    b.border.afterTick()
    b.border.receive('wA', a.sent.splice(0).filter((s) => s.peer === 'wB').map((s) => s.frame))
    a.border.receive('wB', b.sent.splice(0).filter((s) => s.peer === 'wA').map((s) => s.frame))
  }
  return { p1, p2, step, warnings }
}

describe('an offer made ahead of its receiver\'s clock', () => {
  it('is taken in as any other, and the clocks\' disagreement is logged once for that peer', () => {
    const w = clocksApart(10)
    // Two entities past the border and its band, one after the other.
    const first = w.p1.sim.spawnNpc({ x: 110, y: 40 })
    for (let t = 0; t < 3; t++) w.step()
    const second = w.p1.sim.spawnNpc({ x: 110, y: 60 })
    for (let t = 0; t < 3; t++) w.step()
    expect(w.p2.sim.entity(first)).toBeDefined()
    expect(w.p2.sim.entity(second)).toBeDefined()
    expect(w.warnings.map((l) => [l.peer, l.msg])).toEqual([['wA', 'an offer from wA was made 10 ticks ahead of this worker: the machines\' clocks disagree']])
  })

  it('says nothing within two ticks (frames in flight across a tick boundary)', () => {
    const w = clocksApart(2)
    const id = w.p1.sim.spawnNpc({ x: 110, y: 40 })
    for (let t = 0; t < 3; t++) w.step()
    expect(w.p2.sim.entity(id)).toBeDefined()
    expect(w.warnings).toEqual([])
  })
})
