/** Repeated planning under steady load: fixed point, balance, damping, draining. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PartitionMap } from '../../core/partition-map.ts'
import { leaves } from '../../core/partition-map.ts'
import type { PlannerConfig } from '../../coordinator/planner/config.ts'
import { cooldownRounds, plannerConfig } from '../../coordinator/planner/config.ts'
import { Planner } from '../../coordinator/planner/plan.ts'
import type { Decision, PlannerState, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { reportsFromField } from '../../scripts/sim/reports.ts'
import type { Scenario } from './planner-arbitraries.ts'
import { MARGIN, randomField, randomTree, scenarioArb } from './planner-arbitraries.ts'

const config = plannerConfig({ ghostMargin: MARGIN })
const MAX_ROUNDS = 40

interface Run {
  maps: PartitionMap[]
  rounds: Decision[][]
  /** First round after which nothing changed for three rounds, or -1. */
  settledAt: number
}

function run(s: Scenario, cfg: PlannerConfig, rounds = MAX_ROUNDS, workers: (round: number) => WorkerInfo[] = () => s.workers): Run {
  let map = s.map
  let state: PlannerState = initialPlannerState()
  const planner = new Planner()
  const out: Run = { maps: [map], rounds: [], settledAt: -1 }
  let quiet = 0
  for (let round = 0; round < rounds; round++) {
    const result = planner.plan({ round, worlds: [{ map, loads: reportsFromField(map, s.field) }], workers: workers(round), state }, cfg)
    map = result.maps[0] as PartitionMap
    state = result.state
    out.maps.push(map)
    out.rounds.push(result.decisions)
    quiet = result.decisions.length === 0 ? quiet + 1 : 0
    if (quiet === 3 && out.settledAt < 0) out.settledAt = round - 2
  }
  return out
}

/** Max over mean utilisation of the eligible workers, from true loads of the final map. */
/** max/mean worker utilisation, and the hottest worker's utilisation. */
function utilisation(s: Scenario, map: PartitionMap): { imbalance: number; max: number } {
  const loads = reportsFromField(map, s.field)
  const perWorker = new Map<string, number>()
  for (const { leaf } of leaves(map)) perWorker.set(leaf.owner ?? '', (perWorker.get(leaf.owner ?? '') ?? 0) + (loads[leaf.id]?.tickCostMs ?? 0))
  const eligible = s.workers.filter((w) => w.live && !w.draining)
  const cap = eligible.reduce((sum, w) => sum + w.capacity, 0)
  const total = [...perWorker.values()].reduce((a, b) => a + b, 0)
  const max = Math.max(...eligible.map((w) => (perWorker.get(w.id) ?? 0) / w.capacity))
  return { imbalance: max / (total / cap), max }
}

function imbalance(s: Scenario, map: PartitionMap): number {
  return utilisation(s, map).imbalance
}

/** Worlds big enough, and loads spread enough, that balance is possible. */
const roomy = fc
  .record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    workers: fc.array(fc.integer({ min: 80, max: 200 }), { minLength: 2, maxLength: 8 }),
    rects: fc.integer({ min: 6, max: 24 }),
    utilization: fc.double({ min: 0.1, max: 0.6, noNaN: true }),
    depth: fc.integer({ min: 0, max: 4 }),
  })
  .map(({ seed, workers: caps, rects, utilization, depth }): Scenario => {
    const bounds = { minX: 0, minY: 0, maxX: 2000, maxY: 1500 }
    const workers = caps.map((capacity, i) => ({ id: `w${i}`, capacity, live: true, draining: false, labels: {} }))
    const map = randomTree(seed, bounds, depth, (i) => `w${i % workers.length}`, 0)
    const total = caps.reduce((a, b) => a + b, 0) * utilization
    return { map, workers, field: randomField(seed, bounds, rects, total).map((r) => ({ ...r, maxX: Math.max(r.maxX, r.minX + 100), maxY: Math.max(r.maxY, r.minY + 100) })) }
  })

describe('planner under steady load', () => {
  it('reaches a fixed point: three quiet rounds in a row within a bounded number of rounds', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const r = run(s, config)
        expect(r.settledAt).toBeGreaterThanOrEqual(0)
        expect(r.settledAt).toBeLessThanOrEqual(30)
        // Quiet means quiet: the map object itself stops changing.
        expect(r.maps.at(-1)).toBe(r.maps.at(-2))
      }),
      { numRuns: 60 },
    )
  })

  it('after convergence keeps max/mean worker utilisation within the bound when capacity allows', () => {
    fc.assert(
      fc.property(roomy, (s) => {
        const r = run(s, config)
        expect(r.settledAt).toBeGreaterThanOrEqual(0)
        // Balanced within the bound, unless every worker is idle enough that balancing is not worth a move.
        const u = utilisation(s, r.maps.at(-1) as PartitionMap)
        if (u.max > config.idleBelow) expect(u.imbalance).toBeLessThanOrEqual(config.imbalanceBound)
        const strict = run(s, plannerConfig({ ghostMargin: MARGIN, idleBelow: 0 }))
        expect(imbalance(s, strict.maps.at(-1) as PartitionMap)).toBeLessThanOrEqual(config.imbalanceBound)
      }),
      { numRuns: 60 },
    )
  })

  it('leaves a cluster alone while every worker has ample headroom', () => {
    fc.assert(
      fc.property(roomy, (s) => {
        const first = utilisation(s, s.map)
        if (first.max > config.idleBelow) return
        const r = run(s, config)
        // Cold siblings may still merge and oversized leaves split; nothing moves for balance.
        const churn = r.rounds.flat().filter((d) => (d.kind === 'move' && d.cause === 'balance') || d.kind === 'shift' || (d.kind === 'split' && /hot/.test(d.reason)))
        expect(churn).toEqual([])
      }),
      { numRuns: 60 },
    )
  })

  it('never flips a border back, nor hands a leaf back, within its cooldown; K moves a round at most', () => {
    const cfg = plannerConfig({ ghostMargin: MARGIN, maxMovesPerRound: 2, borderCooldownS: 6, returnCooldownS: 8 })
    fc.assert(
      fc.property(fc.oneof(roomy, scenarioArb({ messy: false })), (s) => {
        const r = run(s, cfg, 30)
        const lastShift = new Map<string, { dir: number; round: number }>()
        const left = new Map<string, { owner: string | null; round: number }>()
        const moved = new Map<string, number>()
        r.rounds.forEach((decisions, round) => {
          let moves = 0
          for (const d of decisions) {
            if (d.kind === 'shift') {
              const prev = lastShift.get(d.partition)
              if (prev && prev.dir !== d.after.dir) expect(round - prev.round).toBeGreaterThanOrEqual(cooldownRounds(cfg, cfg.borderCooldownS))
              lastShift.set(d.partition, { dir: d.after.dir, round })
            } else if (d.kind === 'move') {
              moves++
              const prev = left.get(d.partition)
              if (prev && prev.owner === d.after.owner) expect(round - prev.round).toBeGreaterThanOrEqual(cooldownRounds(cfg, cfg.returnCooldownS))
              left.set(d.partition, { owner: d.before.owner, round })
              const last = moved.get(d.partition)
              if (last !== undefined) expect(round - last).toBeGreaterThanOrEqual(cooldownRounds(cfg, cfg.partitionCooldownS))
              moved.set(d.partition, round)
            } else if (d.kind === 'merge' && d.before.low.owner !== d.before.high.owner) moves++
          }
          expect(moves).toBeLessThanOrEqual(cfg.maxMovesPerRound)
        })
      }),
      { numRuns: 60 },
    )
  })

  it('empties a draining worker, one leaf a round when so limited, and never gives it anything', () => {
    const cfg = plannerConfig({ ghostMargin: MARGIN, maxDrainMovesPerRound: 1 })
    fc.assert(
      fc.property(roomy, fc.nat(), (s, pick) => {
        const victim = s.workers[pick % s.workers.length] as WorkerInfo
        const draining = s.workers.map((w) => (w === victim ? { ...w, draining: true } : w))
        const owned = (m: PartitionMap) => leaves(m).filter((l) => l.leaf.owner === victim.id).length
        const start = owned(s.map)
        const r = run({ ...s, workers: draining }, cfg, start + 2)
        for (let i = 1; i < r.maps.length; i++) {
          expect(owned(r.maps[i] as PartitionMap)).toBeLessThanOrEqual(Math.max(0, start - i))
        }
        expect(owned(r.maps.at(-1) as PartitionMap)).toBe(0)
      }),
      { numRuns: 60 },
    )
  })

  it('keeps epochs growing per partition id across rounds, even when ids return after a merge', () => {
    fc.assert(
      fc.property(scenarioArb({ messy: false }), (s) => {
        const r = run(s, config, 25)
        const epochs = new Map<string, number>()
        for (const m of r.maps) {
          for (const { leaf } of leaves(m)) {
            const prev = epochs.get(leaf.id)
            if (prev !== undefined) expect(leaf.epoch).toBeGreaterThanOrEqual(prev)
            epochs.set(leaf.id, leaf.epoch)
          }
        }
      }),
      { numRuns: 40 },
    )
  })
})
