/** Border shifts, BigWorld-style: bounded steps toward the hotter side, halving on reversal, no early flip-back. */
import { describe, expect, it } from 'vitest'
import type { PartitionMap } from '../../core/partition-map.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { plan } from '../../coordinator/planner/plan.ts'
import type { LoadRect, PlannerState, ShiftDecision, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { reportsFromField } from '../../scripts/sim/reports.ts'

const workers: WorkerInfo[] = ['a', 'b'].map((id) => ({ id, capacity: 100, live: true, draining: false, labels: {} }))
// Only shifts: no splits or moves may get in the way.
const config = plannerConfig({ ghostMargin: 4, maxSplitsPerRound: 0, maxMovesPerRound: 0, borderCooldownS: 3 })

const twoLeaves = (): PartitionMap => ({
  worldId: 'w', bounds: { minX: 0, minY: 0, maxX: 1000, maxY: 100 }, version: 0, nextId: 3,
  root: {
    kind: 'split', id: 'p0', axis: 'x', at: 500,
    low: { kind: 'leaf', id: 'p1', owner: 'a', epoch: 0 },
    high: { kind: 'leaf', id: 'p2', owner: 'b', epoch: 0 },
  },
})

/** Load `left` spread over x in [0, 500] and `right` over [500, 1000]. */
const field = (left: number, right: number): LoadRect[] => [
  { minX: 0, minY: 0, maxX: 500, maxY: 100, weight: left },
  { minX: 500, minY: 0, maxX: 1000, maxY: 100, weight: right },
]

class Driver {
  map = twoLeaves()
  state: PlannerState = initialPlannerState()
  round = 0
  step(f: LoadRect[]): ShiftDecision[] {
    const r = plan({ round: this.round++, worlds: [{ map: this.map, loads: reportsFromField(this.map, f) }], workers, state: this.state }, config)
    this.map = r.maps[0] as PartitionMap
    this.state = r.state
    return r.decisions.filter((d): d is ShiftDecision => d.kind === 'shift')
  }
  get at(): number {
    return this.map.root.kind === 'split' ? this.map.root.at : Number.NaN
  }
}

describe('border shifts', () => {
  it('moves the line toward the hotter side by at most the step, and only as far as evens the pair out', () => {
    const d = new Driver()
    const [first] = d.step(field(80, 20))
    expect(first).toBeDefined()
    // Evening out needs 30 of a's 80 to cross: x = 312.5; the step (1/8 of 1000) stops the line at 375.
    expect(first?.after).toEqual({ at: 375, step: 0.125, dir: -1 })
    expect(first?.from).toBe('p1')
    expect(first?.to).toBe('p2')
    expect(first?.load).toBeCloseTo(20)
    // Next round, same direction: the rest of the way (x = 312.5), which is within the step.
    const [second] = d.step(field(80, 20))
    expect(second?.after.at).toBeCloseTo(312.5)
    expect(second?.after.dir).toBe(-1)
    // Balanced now: the border rests.
    expect(d.step(field(80, 20))).toEqual([])
    expect(d.at).toBeCloseTo(312.5)
  })

  it('refuses to reverse within the border cooldown, then reverses with half the step', () => {
    const d = new Driver()
    d.step(field(80, 20)) // round 0: line 500 → 375, step 1/8
    // Round 1: the load swaps sides. Reversing now would flip the border back: refused.
    expect(d.step(field(5, 95))).toEqual([])
    expect(d.step(field(5, 95))).toEqual([])
    // Round 3 = 0 + cooldown: the reversal is allowed, with the step halved to 1/16 (62.5 units).
    const [back] = d.step(field(5, 95))
    expect(back?.after.dir).toBe(1)
    expect(back?.after.step).toBeCloseTo(0.0625)
    expect(back?.after.at).toBeCloseTo(375 + 62.5)
    expect(back?.before.at).toBe(375)
    // Same direction again: the step grows back.
    const [again] = d.step(field(5, 95))
    expect(again?.after.step).toBeCloseTo(0.125)
  })

  it('does not shift between siblings of one owner, or when neither side is hot', () => {
    const d = new Driver()
    expect(d.step(field(52, 48))).toEqual([])
    const same = new Driver()
    same.map = { ...twoLeaves(), root: { ...(twoLeaves().root as Extract<PartitionMap['root'], { kind: 'split' }>), high: { kind: 'leaf', id: 'p2', owner: 'a', epoch: 0 } } }
    expect(same.step(field(80, 20))).toEqual([])
  })

  it('never leaves a side narrower than twice the ghost margin', () => {
    const d = new Driver()
    const narrow = plannerConfig({ ghostMargin: 240, maxSplitsPerRound: 0, maxMovesPerRound: 0 })
    const r = plan({ round: 0, worlds: [{ map: d.map, loads: reportsFromField(d.map, field(95, 5)) }], workers, state: d.state }, narrow)
    const s = r.decisions.find((x) => x.kind === 'shift')
    expect(s?.kind === 'shift' ? s.after.at : Number.NaN).toBe(480)
  })
})
