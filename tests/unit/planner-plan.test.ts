/** A planning round end to end: duties first, then balance; autoscaling hints; damping; reasons. */
import { describe, expect, it } from 'vitest'
import type { PartitionMap } from '../../core/partition-map.ts'
import { leaves } from '../../core/partition-map.ts'
import { cooldownRounds, plannerConfig } from '../../coordinator/planner/config.ts'
import { plan } from '../../coordinator/planner/plan.ts'
import type { PartitionLoad, PlanInput, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { balancedMap } from '../../scripts/sim/maps.ts'

const w = (id: string, extra: Partial<WorkerInfo> = {}): WorkerInfo => ({ id, capacity: 100, live: true, draining: false, labels: {}, ...extra })
const bounds = { minX: 0, minY: 0, maxX: 1600, maxY: 1600 }
const config = plannerConfig({ ghostMargin: 8 })

function uniform(map: PartitionMap, each: number): Record<string, PartitionLoad> {
  const out: Record<string, PartitionLoad> = {}
  for (const { leaf } of leaves(map)) out[leaf.id] = { tickCostMs: each, entities: 0, clients: 0, summary: [] }
  return out
}

const input = (map: PartitionMap, loads: Record<string, PartitionLoad>, workers: WorkerInfo[]): PlanInput =>
  ({ round: 0, worlds: [{ map, loads }], workers, state: initialPlannerState() })

describe('plan', () => {
  it('re-homes the partitions of a dead worker first, on the coolest workers, with epochs bumped', () => {
    const map = balancedMap('w', bounds, 8, (i) => ['a', 'b', 'dead', 'dead'][i % 4] ?? null)
    const r = plan(input(map, uniform(map, 10), [w('a'), w('b'), w('dead', { live: false })]), config)
    const assigns = r.decisions.filter((d) => d.kind === 'assign')
    expect(assigns).toHaveLength(4)
    // They come before anything else in the log.
    expect(r.decisions.slice(0, 4).every((d) => d.kind === 'assign')).toBe(true)
    for (const d of assigns) {
      if (d.kind !== 'assign') continue
      expect(d.cause).toBe('orphan')
      expect(d.reason).toMatch(/dead is not live/)
      expect(d.after.epoch).toBe(d.before.epoch + 1)
    }
    const owners = leaves(r.maps[0] as PartitionMap).map((l) => l.leaf.owner)
    expect(owners.filter((o) => o === 'a')).toHaveLength(4)
    expect(owners.filter((o) => o === 'b')).toHaveLength(4)
  })

  it('empties a draining worker in one round by default and gives it nothing', () => {
    const map = balancedMap('w', bounds, 6, (i) => ['a', 'b', 'c'][i % 3] ?? null)
    const r = plan(input(map, uniform(map, 10), [w('a'), w('b'), w('c', { draining: true })]), config)
    expect(leaves(r.maps[0] as PartitionMap).some((l) => l.leaf.owner === 'c')).toBe(false)
    expect(r.decisions.filter((d) => d.kind === 'move' && d.cause === 'drain')).toHaveLength(2)
  })

  it('asks for more workers when load passes the safety bound, fewer when it is low', () => {
    const map = balancedMap('w', bounds, 4, (i) => (i % 2 ? 'a' : 'b'))
    // 4 × 60 = 240 on 200 of capacity: at 0.7 target, 240 / 70 → 4 workers, 2 more.
    expect(plan(input(map, uniform(map, 60), [w('a'), w('b')]), config).workersWanted).toBe(2)
    // Mid load: nothing to say.
    expect(plan(input(map, uniform(map, 30), [w('a'), w('b')]), config).workersWanted).toBe(0)
    // 4 × 5 = 20 on 400: one worker is enough, three fewer.
    expect(plan(input(map, uniform(map, 5), [w('a'), w('b'), w('c'), w('d')]), config).workersWanted).toBe(-3)
    // No worker at all: one wanted.
    expect(plan(input(map, uniform(map, 5), []), config).workersWanted).toBe(1)
  })

  it('moves at most K leaves a round, from the hottest worker toward the coolest', () => {
    const map = balancedMap('w', bounds, 16, () => 'a')
    const k2 = plannerConfig({ ghostMargin: 8, maxMovesPerRound: 2 })
    const r = plan(input(map, uniform(map, 5), [w('a'), w('b'), w('c'), w('d')]), k2)
    const moves = r.decisions.filter((d) => d.kind === 'move')
    expect(moves).toHaveLength(2)
    for (const d of moves) if (d.kind === 'move') expect(d.before.owner).toBe('a')
  })

  it('keeps a moved leaf still during its cooldown', () => {
    const map = balancedMap('w', bounds, 16, () => 'a')
    const k2 = plannerConfig({ ghostMargin: 8, maxMovesPerRound: 8, partitionCooldownS: 5 })
    const first = plan(input(map, uniform(map, 5), [w('a'), w('b')]), k2)
    const moved = new Set(first.decisions.filter((d) => d.kind === 'move').map((d) => d.partition))
    expect(moved.size).toBeGreaterThan(0)
    // Next round b is suddenly the hot one: the leaves it just got must stay.
    const next = first.maps[0] as PartitionMap
    const loads = uniform(next, 5)
    for (const id of moved) loads[id] = { tickCostMs: 40, entities: 0, clients: 0, summary: [] }
    const second = plan({ round: 1, worlds: [{ map: next, loads }], workers: [w('a'), w('b')], state: first.state }, k2)
    for (const d of second.decisions) if (d.kind === 'move') expect(moved.has(d.partition)).toBe(false)
  })

  it('counts cooldowns in seconds: with 500 ms rounds a moved leaf stays put for twice as many rounds', () => {
    const map = balancedMap('w', bounds, 16, () => 'a')
    const at = (roundMs: number) => {
      // No return cooldown: with two workers the only way a leaf can move is back. A worker counts
      // as hot in the first round it is above the trigger (this test is about the cooldown).
      const cfg = plannerConfig({ ghostMargin: 8, maxMovesPerRound: 8, partitionCooldownS: 3, returnCooldownS: 0, confirmHotS: 0, roundMs })
      const first = plan(input(map, uniform(map, 5), [w('a'), w('b')]), cfg)
      const moved = new Set(first.decisions.filter((d) => d.kind === 'move').map((d) => d.partition))
      const next = first.maps[0] as PartitionMap
      const loads = uniform(next, 5)
      for (const id of moved) loads[id] = { tickCostMs: 40, entities: 0, clients: 0, summary: [] }
      // The first round after round 0 in which one of the leaves b just got may move again.
      for (let round = 1; round < 20; round++) {
        const r = plan({ round, worlds: [{ map: next, loads }], workers: [w('a'), w('b')], state: first.state }, cfg)
        if (r.decisions.some((d) => d.kind === 'move' && moved.has(d.partition))) return round
      }
      return -1
    }
    expect(cooldownRounds(plannerConfig({ roundMs: 1000 }), 3)).toBe(3)
    expect(cooldownRounds(plannerConfig({ roundMs: 500 }), 3)).toBe(6)
    expect(cooldownRounds(plannerConfig({ roundMs: 400 }), 3)).toBe(8)
    expect(at(1000)).toBe(3)
    expect(at(500)).toBe(6)
  })

  it('merges cold siblings only once no worker has been hot for mergeCalmS', () => {
    // Eight leaves in tree order: 0 and 1 (a's) and 2 and 3 (b's) are cold sibling pairs; 4 and 5
    // are a's, 6 and 7 b's, and carry the load.
    const map = balancedMap('w', bounds, 8, (i) => (['a', 'a', 'b', 'b', 'a', 'a', 'b', 'b'][i] as string))
    const loadsOf = (heavy: number[]): Record<string, PartitionLoad> => Object.fromEntries(leaves(map).map((l, i) =>
      [l.leaf.id, { tickCostMs: i < 4 ? 0.5 : (heavy[i - 4] as number), entities: 0, clients: 0, summary: [] }]))
    const calm = loadsOf([10, 10, 10, 10])
    const cfg = plannerConfig({ ghostMargin: 8, mergeCalmS: 5, maxMovesPerRound: 0, maxSplitsPerRound: 0, maxShiftsPerRound: 0 })
    const run = (round: number, loads: Record<string, PartitionLoad>, lastHotRound?: number) => {
      const state = { ...initialPlannerState(), round: round - 1, ...(lastHotRound === undefined ? {} : { lastHotRound }) }
      return plan({ round, worlds: [{ map, loads }], workers: [w('a'), w('b')], state }, cfg)
    }
    const merges = (r: ReturnType<typeof run>) => r.decisions.filter((d) => d.kind === 'merge').length
    // b is hot right now (no moves allowed to fix it): nothing merges, and the state says so.
    const hot = run(20, loadsOf([2, 2, 30, 30]))
    expect(merges(hot)).toBe(0)
    expect(hot.state.lastHotRound).toBe(20)
    // Balanced now, but a worker was hot 4 rounds ago: merges still wait...
    expect(merges(run(20, calm, 16))).toBe(0)
    // ...5 rounds (seconds, at 1 s rounds) ago they go ahead; so they do in a cluster never hot.
    expect(merges(run(20, calm, 15))).toBe(2)
    expect(merges(run(20, calm))).toBe(2)
  })

  it('moves load off a worker only once it has been hot for confirmHotS; smooths per second', () => {
    const map = balancedMap('w', bounds, 16, () => 'a')
    const cfg = plannerConfig({ ghostMargin: 8, roundMs: 500, confirmHotS: 1 })
    const moves = (r: { decisions: { kind: string }[] }) => r.decisions.filter((d) => d.kind === 'move').length
    // At 500 ms rounds one hot round is not enough (a noisy report); the second in a row is.
    const first = plan(input(map, uniform(map, 5), [w('a'), w('b')]), cfg)
    expect(moves(first)).toBe(0)
    expect(first.state.hotSince).toEqual({ a: 0 })
    const second = plan({ round: 1, worlds: [{ map, loads: uniform(map, 5) }], workers: [w('a'), w('b')], state: first.state }, cfg)
    expect(moves(second)).toBeGreaterThan(0)
    // A streak that breaks starts again.
    const cooled = plan({ round: 1, worlds: [{ map, loads: uniform(map, 0.1) }], workers: [w('a'), w('b')], state: { ...first.state, smoothed: {} } }, cfg)
    expect(cooled.state.hotSince).toBeUndefined()
    // At 1 s rounds a second is one round: the first round acts.
    expect(moves(plan(input(map, uniform(map, 5), [w('a'), w('b')]), plannerConfig({ ghostMargin: 8 })))).toBeGreaterThan(0)
    // Smoothing weights are per second: at 500 ms a rise weighs 1 - (1 - 0.8)^0.5 ≈ 0.553 a round.
    const leaf = leaves(map)[0]?.leaf.id as string
    const state = { ...initialPlannerState(), smoothed: { w: Object.fromEntries(leaves(map).map((l) => [l.leaf.id, 10])) } }
    const risen = plan({ round: 0, worlds: [{ map, loads: { ...uniform(map, 10), [leaf]: { tickCostMs: 20, entities: 0, clients: 0, summary: [] } } }], workers: [w('a'), w('b', { capacity: 10_000 })], state }, plannerConfig({ ghostMargin: 8, roundMs: 500, maxMovesPerRound: 0, maxSplitsPerRound: 0, maxMergesPerRound: 0 }))
    expect(risen.state.smoothed['w']?.[leaf]).toBeCloseTo(10 + 10 * (1 - Math.sqrt(0.2)), 9)
  })

  it('never grows a worker past its safety bound to balance', () => {
    // Leaf 0 on b (80); leaves 1 and 2 on a (15 and 85): a is at 1.0, b at 0.8 of capacity. Handing
    // a's 15 to b would even them out (0.95 / 0.85) but take b past its 0.9 safety bound.
    const map = balancedMap('w', bounds, 3, (i) => (i === 0 ? 'b' : 'a'))
    const costs = [80, 15, 85]
    const loads: Record<string, PartitionLoad> = {}
    leaves(map).forEach((l, i) => (loads[l.leaf.id] = { tickCostMs: costs[i] as number, entities: 0, clients: 0, summary: [] }))
    const moves = (safetyFraction: number) =>
      plan(input(map, loads, [w('a'), w('b')]), plannerConfig({ ghostMargin: 8, maxSplitsPerRound: 0, balanceTrigger: 1.05, safetyFraction }))
        .decisions.filter((d) => d.kind === 'move')
    expect(moves(0.9)).toEqual([])
    // The control: with the bound at full capacity the same move is made.
    expect(moves(1).map((d) => d.partition)).toEqual([leaves(map)[1]?.leaf.id])
  })

  it('smooths loads: rises quickly, falls a little slower, carried in the state', () => {
    const map = balancedMap('w', bounds, 1, () => 'a')
    const cfg = plannerConfig({ smoothingUp: 0.5, smoothingDown: 0.25 })
    let state = initialPlannerState()
    const step = (cost: number) => {
      const r = plan({ round: 0, worlds: [{ map, loads: { p0: { tickCostMs: cost, entities: 0, clients: 0, summary: [] } } }], workers: [w('a')], state }, cfg)
      state = r.state
      return state.smoothed['w']?.['p0']
    }
    expect(step(10)).toBe(10)
    expect(step(30)).toBe(20)
    expect(step(0)).toBe(15)
    // A partial report (a partition still being filled) is a lower bound: it only ever raises.
    const partial = (cost: number) => {
      const r = plan({ round: 0, worlds: [{ map, loads: { p0: { tickCostMs: cost, entities: 0, clients: 0, summary: [], partial: true } } }], workers: [w('a')], state }, cfg)
      state = r.state
      return state.smoothed['w']?.['p0']
    }
    expect(partial(5)).toBe(15)
    expect(partial(40)).toBe(40)
  })

  it('replaces the estimate of a leaf it split or moved with its first whole report, then smooths again', () => {
    // p0 at 80 on a is cut in two halves of 40 (estimates), one of which goes to b.
    const map = balancedMap('w', bounds, 1, () => 'a')
    const first = plan(input(map, uniform(map, 80), [w('a'), w('b')]), plannerConfig({ ghostMargin: 8, maxSplitsPerRound: 1 }))
    const halves = first.decisions.flatMap((d) => (d.kind === 'split' ? [d.after.low.id, d.after.high.id] : []))
    expect(first.decisions.map((d) => d.kind)).toEqual(['split', 'move'])
    const [low, high] = halves as [string, string]
    expect(first.state.estimated).toEqual({ w: { [low]: true, [high]: true } })
    // Later rounds only measure: nothing is cut, moved or shifted.
    const still = plannerConfig({ ghostMargin: 8, maxSplitsPerRound: 0, maxMovesPerRound: 0, maxShiftsPerRound: 0 })
    let state = first.state
    const round = (costs: [number, number], partial = false) => {
      const loads: Record<string, PartitionLoad> = {
        [low]: { tickCostMs: costs[0], entities: 0, clients: 0, summary: [], partial },
        [high]: { tickCostMs: costs[1], entities: 0, clients: 0, summary: [], partial },
      }
      const r = plan({ round: 1, worlds: [{ map: first.maps[0] as PartitionMap, loads }], workers: [w('a'), w('b')], state }, still)
      state = r.state
      return [state.smoothed['w']?.[low], state.smoothed['w']?.[high]]
    }
    // The first report at the new epochs is partial (a lower bound): the estimates stay, raised.
    expect(round([60, 10], true)).toEqual([60, 40])
    expect(Object.keys(state.estimated?.['w'] ?? {})).toHaveLength(2)
    // The first whole one replaces them: the crowd is at 60 / 20, not at what was estimated.
    expect(round([60, 20])).toEqual([60, 20])
    expect(state.estimated).toBeUndefined()
    // From then on reports are smoothed into measurements (0.8 of a rise, 0.7 of a fall, per second).
    const [a, b] = round([70, 10]) as [number, number]
    expect(a).toBeCloseTo(68, 9)
    expect(b).toBeCloseTo(13, 9)
  })

  it('leaves a map with one worker and moderate load alone (a fixed point from the start)', () => {
    const map = balancedMap('w', bounds, 4, () => 'a')
    const r = plan(input(map, uniform(map, 10), [w('a')]), config)
    expect(r.decisions).toEqual([])
    expect(r.maps[0]).toBe(map)
  })
})
