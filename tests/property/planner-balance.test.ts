/**
 * A round that answers a hot worker evens the cluster out as far as its leaves allow, instead of
 * stopping just under the trigger: afterwards the busiest worker is within the target band, or no
 * worker is further from the busiest than two of the largest leaves (and the least gain a move
 * must make). A round with no hot worker moves nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PartitionMap } from '../../core/partition-map.ts'
import { leaves } from '../../core/partition-map.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { plan } from '../../coordinator/planner/plan.ts'
import type { PartitionLoad, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { balancedMap } from '../../scripts/sim/maps.ts'

const bounds = { minX: 0, minY: 0, maxX: 4096, maxY: 4096 }

const clusterArb = fc
  .record({
    workers: fc.integer({ min: 2, max: 6 }),
    costs: fc.array(fc.double({ min: 2, max: 8, noNaN: true }), { minLength: 8, maxLength: 48 }),
    // Owners skewed toward the first worker, so that many clusters start with one hot worker.
    owners: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 48, maxLength: 48 }),
    target: fc.constantFrom(1, 1.05, 1.1),
  })
  .map(({ workers: n, costs, owners, target }) => {
    const workers: WorkerInfo[] = Array.from({ length: n }, (_, i) => ({ id: `w${i}`, capacity: 100, live: true, draining: false, labels: {} }))
    const map = balancedMap('b', bounds, costs.length, (i) => `w${Math.max(0, (owners[i] as number) - 10 + n)}`)
    const loads: Record<string, PartitionLoad> = {}
    leaves(map).forEach(({ leaf }, i) => (loads[leaf.id] = { tickCostMs: costs[i] as number, entities: 0, clients: 0, summary: [] }))
    return { workers, map, loads, target }
  })

function perWorker(map: PartitionMap, loads: Record<string, PartitionLoad>, workers: readonly WorkerInfo[]): number[] {
  const out = new Map<string, number>(workers.map((w) => [w.id, 0]))
  for (const { leaf } of leaves(map)) out.set(leaf.owner as string, (out.get(leaf.owner as string) ?? 0) + (loads[leaf.id]?.tickCostMs ?? 0))
  return [...out.values()]
}

describe('a balancing round', () => {
  it('leaves the busiest worker within the target band or within two leaves of the least busy', () => {
    fc.assert(
      fc.property(clusterArb, ({ workers, map, loads, target }) => {
        // Moves only (no splits, shifts or merges), at 1 s rounds: a worker above the trigger is hot at once.
        const config = plannerConfig({ ghostMargin: 8, balanceTarget: target, maxSplitsPerRound: 0, maxShiftsPerRound: 0, maxMergesPerRound: 0 })
        const before = perWorker(map, loads, workers)
        const mean = before.reduce((a, b) => a + b, 0) / before.length
        const trigger = Math.max(mean * config.balanceTrigger, config.idleBelow * 100)
        const r = plan({ round: 0, worlds: [{ map, loads }], workers, state: initialPlannerState() }, config)
        const moved = r.decisions.filter((d) => d.kind === 'move').length
        if (!before.some((x) => x > trigger)) {
          expect(moved).toBe(0)
          return
        }
        const after = perWorker(r.maps[0] as PartitionMap, loads, workers)
        const max = Math.max(...after)
        const min = Math.min(...after)
        const largest = Math.max(...Object.values(loads).map((l) => l.tickCostMs))
        const band = Math.max(mean * target, config.idleBelow * 100)
        const eps = 1e-9
        // Stuck short of the band only when no whole leaf fits: one that would overshoot by more
        // than half the gap is cut when the worker is hot, and left below the trigger.
        expect(max <= band + eps || max - min < 2 * largest + config.minGain * mean + eps).toBe(true)
        // Never worse than it was, and total load is where it was.
        expect(max).toBeLessThanOrEqual(Math.max(...before) + eps)
        expect(after.reduce((a, b) => a + b, 0)).toBeCloseTo(mean * before.length, 9)
      }),
      { numRuns: 300 },
    )
  })

  it('with the target at the trigger the same bound does not hold (the control)', () => {
    // 36 leaves of 2.5 on two workers, 24 on w0 (60 against 30): stopping just under the trigger
    // leaves 50 / 40, four leaves apart.
    const workers: WorkerInfo[] = ['w0', 'w1'].map((id) => ({ id, capacity: 100, live: true, draining: false, labels: {} }))
    const map = balancedMap('b', bounds, 36, (i) => (i < 24 ? 'w0' : 'w1'))
    const loads: Record<string, PartitionLoad> = {}
    for (const { leaf } of leaves(map)) loads[leaf.id] = { tickCostMs: 2.5, entities: 0, clients: 0, summary: [] }
    const after = (balanceTarget: number) => {
      const config = plannerConfig({ ghostMargin: 8, balanceTarget, maxSplitsPerRound: 0, maxShiftsPerRound: 0, maxMergesPerRound: 0 })
      return perWorker(plan({ round: 0, worlds: [{ map, loads }], workers, state: initialPlannerState() }, config).maps[0] as PartitionMap, loads, workers)
    }
    const old = after(1.15)
    expect(Math.max(...old)).toBeGreaterThan(45 * 1.05)
    expect(Math.max(...old) - Math.min(...old)).toBeGreaterThanOrEqual(2 * 2.5 + 0.02 * 45)
    // The default target evens them out.
    expect(after(1.05)).toEqual([45, 45])
  })
})
