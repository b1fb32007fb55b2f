/** One planning round over random worlds, trees, workers and loads: the invariants every plan keeps. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { intersects } from '../../core/geometry.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { leaves, validateMap } from '../../core/partition-map.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { plan } from '../../coordinator/planner/plan.ts'
import type { PlanInput, PlanResult } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { reportsFromField } from '../../scripts/sim/reports.ts'
import type { Scenario } from './planner-arbitraries.ts'
import { MARGIN, MIN_WIDTH, scenarioArb, tilingErrors } from './planner-arbitraries.ts'

const config = plannerConfig({ ghostMargin: MARGIN, maxMovesPerRound: 3 })
const runs = { numRuns: 150 }

function inputOf(s: Scenario): PlanInput {
  return { round: 0, worlds: [{ map: s.map, loads: reportsFromField(s.map, s.field) }], workers: s.workers, state: initialPlannerState() }
}

function once(s: Scenario): { input: PlanInput; result: PlanResult; after: PartitionMap } {
  const input = inputOf(s)
  const result = plan(input, config)
  return { input, result, after: result.maps[0] as PartitionMap }
}

describe('planner invariants (one round)', () => {
  it('leaves tile the world exactly: no gap, no overlap', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { after } = once(s)
        expect(validateMap(after)).toEqual([])
        expect(tilingErrors(after, 1)).toEqual([])
      }),
      runs,
    )
  })

  it('every leaf gets one live, non-draining owner whenever such a worker exists', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { after } = once(s)
        const eligible = new Set(s.workers.filter((w) => w.live && !w.draining).map((w) => w.id))
        const live = new Set(s.workers.filter((w) => w.live).map((w) => w.id))
        for (const { leaf } of leaves(after)) {
          if (eligible.size > 0) expect(eligible.has(leaf.owner as string)).toBe(true)
          else if (live.size > 0) expect(live.has(leaf.owner as string)).toBe(true)
          else expect(leaf.owner).toBeNull()
        }
      }),
      runs,
    )
  })

  it('epochs never fall, rise on every owner change, and new leaves outrank what they replace', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { after } = once(s)
        const before = leaves(s.map)
        const old = new Map(before.map((l) => [l.leaf.id, l.leaf]))
        for (const { leaf, rect } of leaves(after)) {
          const prev = old.get(leaf.id)
          if (prev) {
            expect(leaf.epoch).toBeGreaterThanOrEqual(prev.epoch)
            if (prev.owner !== leaf.owner) expect(leaf.epoch).toBeGreaterThan(prev.epoch)
          } else {
            const overlapped = before.filter((b) => intersects(b.rect, rect)).map((b) => b.leaf.epoch)
            expect(leaf.epoch).toBeGreaterThan(Math.max(...overlapped))
          }
        }
      }),
      runs,
    )
  })

  it('is deterministic and leaves its input untouched', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const input = inputOf(s)
        const copy = structuredClone(input)
        const a = plan(input, config)
        const b = plan(structuredClone(input), config)
        expect(a).toEqual(b)
        expect(input).toEqual(copy)
      }),
      runs,
    )
  })

  it('makes at most K balancing moves a round (cross-owner merges count)', () => {
    fc.assert(
      fc.property(scenarioArb({ messy: false }), (s) => {
        const { result } = once(s)
        const moves = result.decisions.filter(
          (d) => (d.kind === 'move' && d.cause === 'balance') || (d.kind === 'merge' && d.before.low.owner !== d.before.high.owner),
        )
        expect(moves.length).toBeLessThanOrEqual(config.maxMovesPerRound)
        expect(result.decisions.filter((d) => d.kind === 'split').length).toBeLessThanOrEqual(config.maxSplitsPerRound)
      }),
      runs,
    )
  })

  it('conserves total load across splits, merges and shifts', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { input, result } = once(s)
        const reported = Object.values(input.worlds[0]?.loads ?? {}).reduce((sum, l) => sum + l.tickCostMs, 0)
        const carried = Object.values(result.state.smoothed[s.map.worldId] ?? {}).reduce((sum, x) => sum + x, 0)
        expect(carried).toBeCloseTo(reported, 6)
        const hasOwner = s.workers.some((w) => w.live)
        if (hasOwner) expect(Object.values(result.workerLoads).reduce((a, b) => a + b, 0)).toBeCloseTo(reported, 6)
      }),
      runs,
    )
  })

  it('never makes a partition narrower than twice the ghost margin', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { after } = once(s)
        for (const { rect } of leaves(after)) {
          expect(rect.maxX - rect.minX).toBeGreaterThanOrEqual(MIN_WIDTH - 1e-9)
          expect(rect.maxY - rect.minY).toBeGreaterThanOrEqual(MIN_WIDTH - 1e-9)
        }
      }),
      runs,
    )
  })

  it('never moves, splits or reshapes a pinned leaf whose owner is live and not draining', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { after } = once(s)
        const ok = new Set(s.workers.filter((w) => w.live && !w.draining).map((w) => w.id))
        const now = new Map(leaves(after).map((l) => [l.leaf.id, l]))
        for (const { leaf, rect } of leaves(s.map)) {
          if (!leaf.pinned || leaf.owner === null || !ok.has(leaf.owner)) continue
          const later = now.get(leaf.id)
          expect(later?.leaf.owner).toBe(leaf.owner)
          expect(later?.rect).toEqual(rect)
        }
      }),
      runs,
    )
  })

  it('gives every decision a reason and only reports changes that happened', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const { result, after } = once(s)
        for (const d of result.decisions) expect(d.reason.length).toBeGreaterThan(5)
        if (result.decisions.length === 0) expect(after).toBe(s.map)
        else expect(after.version).toBe(s.map.version + 1)
      }),
      runs,
    )
  })
})

describe('the generators reach every kind of decision', () => {
  it('over many random scenarios, the planner assigns, moves, splits, merges and shifts', () => {
    const seen = new Map<string, number>()
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        for (const d of once(s).result.decisions) seen.set(d.kind, (seen.get(d.kind) ?? 0) + 1)
      }),
      { numRuns: 300, seed: 42 },
    )
    for (const kind of ['assign', 'move', 'split', 'merge', 'shift']) expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(0)
  })
})
