/** Splitting at the load-weighted median, found through the R-tree load index. */
import { describe, expect, it } from 'vitest'
import { createMap, leaves } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { LoadIndex, leafItems, solveCumulative } from '../../coordinator/planner/load-index.ts'
import { plan } from '../../coordinator/planner/plan.ts'
import type { LoadRect, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'

const worker = (id: string, capacity = 100): WorkerInfo => ({ id, capacity, live: true, draining: false, labels: {} })

function planOnce(map: PartitionMap, summary: LoadRect[], tickCostMs: number, workers: WorkerInfo[], options = {}) {
  const loads = { p0: { tickCostMs, entities: 0, clients: 0, summary } }
  return plan({ round: 0, worlds: [{ map, loads }], workers, state: initialPlannerState() }, plannerConfig(options))
}

describe('solveCumulative', () => {
  const item = (minX: number, maxX: number, w: number) => ({ minX, maxX, minY: 0, maxY: 1, w })

  it('finds where a uniform spread reaches the target', () => {
    expect(solveCumulative([item(0, 100, 10)], 'x', 5, 0, 100)).toBeCloseTo(50)
    expect(solveCumulative([item(0, 100, 10)], 'x', 2.5, 0, 100)).toBeCloseTo(25)
  })

  it('walks across several items and empty ground', () => {
    // 4 in [0, 10], nothing in [10, 90], 4 in [90, 100]: half the load is reached at the end of the first.
    const items = [item(0, 10, 4), item(90, 100, 4)]
    expect(solveCumulative(items, 'x', 4, 0, 100)).toBeCloseTo(10)
    expect(solveCumulative(items, 'x', 6, 0, 100)).toBeCloseTo(95)
  })

  it('treats zero-width items as points the line stops at', () => {
    const items = [{ minX: 30, maxX: 30, minY: 0, maxY: 0, w: 10 }, item(0, 100, 10)]
    expect(solveCumulative(items, 'x', 10, 0, 100)).toBe(30)
  })

  it('returns the middle when there is no load', () => {
    expect(solveCumulative([], 'x', 1, 0, 100)).toBe(50)
  })
})

describe('LoadIndex', () => {
  it('scales a summary to the leaf load and answers rectangle queries', () => {
    const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
    const summary = [{ minX: 0, minY: 0, maxX: 50, maxY: 100, weight: 3 }, { minX: 50, minY: 0, maxX: 100, maxY: 100, weight: 1 }]
    const items = leafItems({ rect, load: 40, summary })
    expect(items.reduce((s, i) => s + i.w, 0)).toBeCloseTo(40)
    const index = new LoadIndex({
      overlapping: (_r, visit) => visit('a', rect.minX, rect.minY, rect.maxX, rect.maxY),
      leaf: (_id, r) => ({ rect: r, load: 40, summary }),
    })
    expect(index.loadIn({ minX: 0, minY: 0, maxX: 50, maxY: 100 })).toBeCloseTo(30)
    expect(index.loadIn({ minX: 0, minY: 0, maxX: 25, maxY: 50 })).toBeCloseTo(7.5)
    // Median along x: 20 of the 40 lie below x = 33.33 (30 spread over [0, 50]).
    expect(index.median(rect, 'x').at).toBeCloseTo(100 / 3)
  })

  it('clips summary rectangles that stray outside their leaf', () => {
    const rect = { minX: 0, minY: 0, maxX: 10, maxY: 10 }
    const items = leafItems({ rect, load: 8, summary: [{ minX: 5, minY: 0, maxX: 15, maxY: 10, weight: 1 }] })
    expect(items).toHaveLength(1)
    expect(items[0]?.maxX).toBe(10)
    expect(items[0]?.w).toBeCloseTo(8)
  })
})

describe('split at the median', () => {
  it('cuts a hot leaf along its longer axis where the load halves, and the halves carry it all', () => {
    const map = createMap('w', { minX: 0, minY: 0, maxX: 1000, maxY: 400 }, 'a')
    // Load packed into the left fifth: the median lies at x = 100, not at the middle.
    const summary = [{ minX: 0, minY: 0, maxX: 200, maxY: 400, weight: 1 }]
    const r = planOnce(map, summary, 90, [worker('a'), worker('b')], { maxMovesPerRound: 0, ghostMargin: 4 })
    const split = r.decisions.find((d) => d.kind === 'split')
    expect(split?.kind).toBe('split')
    if (split?.kind !== 'split') return
    expect(split.after.axis).toBe('x')
    expect(split.after.at).toBeCloseTo(100)
    expect(split.after.low.load + split.after.high.load).toBeCloseTo(split.before.load)
    expect(split.reason).toMatch(/median/)
    const ls = leaves(r.maps[0] as PartitionMap)
    expect(ls.length).toBeGreaterThanOrEqual(2)
    for (const l of ls) expect(l.leaf.epoch).toBeGreaterThan(0)
  })

  it('clamps the cut so that no side is narrower than twice the ghost margin', () => {
    const map = createMap('w', { minX: 0, minY: 0, maxX: 1000, maxY: 400 }, 'a')
    const summary = [{ minX: 0, minY: 0, maxX: 2, maxY: 400, weight: 1 }]
    const r = planOnce(map, summary, 90, [worker('a'), worker('b')], { maxMovesPerRound: 0, ghostMargin: 25 })
    const first = r.decisions.find((d) => d.kind === 'split')
    if (first?.kind !== 'split') throw new Error('expected a split')
    expect(first.after.at).toBe(50)
    expect(first.reason).toMatch(/clamped/)
    for (const { rect } of leaves(r.maps[0] as PartitionMap)) expect(rect.maxX - rect.minX).toBeGreaterThanOrEqual(50)
  })

  it('leaves a leaf too narrow to cut alone', () => {
    const map = createMap('w', { minX: 0, minY: 0, maxX: 60, maxY: 60 }, 'a')
    const r = planOnce(map, [], 90, [worker('a'), worker('b')], { ghostMargin: 16 })
    expect(r.decisions.filter((d) => d.kind === 'split')).toEqual([])
  })
})
