/**
 * What the leader plans from: a partition's report counts only from its owner, at its epoch, and
 * the first report at that epoch only as a lower bound (it measured the partition while it was being
 * filled); what an old owner still runs while handing it over counts on the leaves that now cover
 * that ground.
 */
import { describe, expect, it } from 'vitest'
import { LoadTable, measuredWholeWindow } from '../../coordinator/load-table.ts'
import { leafLoads } from '../../coordinator/planning-input.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { ReportLoadRequest } from '../../proto/gen/tessera/v1/coordinator.ts'

const bounds = { minX: 0, minY: 0, maxX: 100, maxY: 100 }

/** Two leaves, p1 (x < 50) and p2, owned by w1 and w2 at the given epochs. */
function map(epoch1: number, epoch2: number, owner1 = 'w1'): PartitionMap {
  return {
    worldId: 'w', bounds, version: 1, nextId: 3,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: 50,
      low: { kind: 'leaf', id: 'p1', owner: owner1, epoch: epoch1 },
      high: { kind: 'leaf', id: 'p2', owner: 'w2', epoch: epoch2 },
    },
  }
}

type Part = [id: string, epoch: number, cost: number, where?: { bounds: typeof bounds; summary: Array<{ rect: typeof bounds; weight: number }> }]

/** Both leaves on w1. */
function sameOwner(epoch1: number, epoch2: number): PartitionMap {
  const m = map(epoch1, epoch2)
  if (m.root.kind === 'split' && m.root.high.kind === 'leaf') m.root.high.owner = 'w1'
  return m
}

function report(workerId: string, seq: number, parts: Part[]): ReportLoadRequest {
  return ReportLoadRequest.fromPartial({
    workerId, seq,
    partitions: parts.map(([partitionId, epoch, tickCostMs, where]) => ({ partition: { worldId: 'w', partitionId, epoch }, tickCostMs, ...where })),
  })
}

const costs = (loads: ReturnType<typeof leafLoads>) => Object.fromEntries(Object.entries(loads).map(([k, v]) => [k, v.tickCostMs]))
const partial = (loads: ReturnType<typeof leafLoads>) => Object.fromEntries(Object.entries(loads).map(([k, v]) => [k, v.partial === true]))

describe('load table', () => {
  it('counts a partition in full from its second report at an epoch on, the first as a lower bound', () => {
    const t = new LoadTable(5000, () => 0)
    t.accept(report('w1', 1, [['p1', 1, 10]]))
    t.accept(report('w2', 1, [['p2', 1, 20]]))
    // Both first reports at their epoch: nothing measured over a whole window yet.
    expect(costs(leafLoads(map(1, 1), t))).toEqual({ p1: 10, p2: 20 })
    expect(partial(leafLoads(map(1, 1), t))).toEqual({ p1: true, p2: true })
    t.accept(report('w1', 2, [['p1', 1, 30]]))
    t.accept(report('w2', 2, [['p2', 1, 40]]))
    expect(costs(leafLoads(map(1, 1), t))).toEqual({ p1: 30, p2: 40 })
    expect(partial(leafLoads(map(1, 1), t))).toEqual({ p1: false, p2: false })
  })

  it('starts again when the epoch changes, and when the worker restarts', () => {
    const t = new LoadTable(5000, () => 0)
    t.accept(report('w1', 1, [['p1', 1, 10]]))
    t.accept(report('w1', 2, [['p1', 1, 10]]))
    const r = () => t.get('w1') as NonNullable<ReturnType<LoadTable['get']>>
    expect(measuredWholeWindow(r(), r().report.partitions[0] as never)).toBe(true)
    // The partition moved away and back (a new epoch): its first report there does not count.
    t.accept(report('w1', 3, [['p1', 3, 5]]))
    expect(measuredWholeWindow(r(), r().report.partitions[0] as never)).toBe(false)
    expect(leafLoads(map(3, 1), t)['p1']?.partial).toBe(true)
    t.accept(report('w1', 4, [['p1', 3, 50]]))
    expect(leafLoads(map(3, 1), t)['p1']?.tickCostMs).toBe(50)
    expect(leafLoads(map(3, 1), t)['p1']?.partial).toBeUndefined()
    // A restarted worker process (seq from 1 again) starts every partition afresh.
    t.accept(report('w1', 1, [['p1', 3, 60]]))
    expect(leafLoads(map(3, 1), t)['p1']?.partial).toBe(true)
  })

  it('ignores reports from a worker that does not own the leaf, or at another epoch', () => {
    const t = new LoadTable(5000, () => 0)
    for (const seq of [1, 2]) {
      t.accept(report('w1', seq, [['p1', 1, 10], ['p2', 1, 99]]))
      t.accept(report('w2', seq, [['p2', 2, 20]]))
    }
    // p1 now belongs to w3: w1's figure describes the past. p2's epoch is 2: w1's old p2 is ignored.
    expect(Object.fromEntries(Object.entries(leafLoads(map(2, 2, 'w3'), t)).map(([k, v]) => [k, v.tickCostMs]))).toEqual({ p2: 20 })
  })

  it('counts what a worker still hands over on its own leaves that now cover that ground, and no other worker\'s', () => {
    const t = new LoadTable(5000, () => 0)
    // p0 was merged from two pieces on w1 into p1 (epoch 2): w1 still runs old piece p9 at epoch 1
    // while it hands it over, with 12 ms/s of cost, all in the left half. w2 runs p2 as before.
    const retiring: Part = ['p9', 1, 12, { bounds: { ...bounds, maxX: 50 }, summary: [{ rect: { minX: 0, minY: 0, maxX: 50, maxY: 50 }, weight: 12 }] }]
    for (const seq of [1, 2]) {
      t.accept(report('w1', seq, [['p1', 2, 8], retiring]))
      t.accept(report('w2', seq, [['p2', 1, 20]]))
    }
    const loads = leafLoads(map(2, 1), t, () => true)
    expect(costs(loads)).toEqual({ p1: 20, p2: 20 })
    // Where that load lies goes with it, for the planner's medians and shifts.
    expect(loads['p1']?.summary).toContainEqual({ minX: 0, minY: 0, maxX: 50, maxY: 50, weight: 12 })
    // A worker that is gone hands nothing over: its last report does not count.
    expect(costs(leafLoads(map(2, 1), t, (id) => id !== 'w1'))).toEqual({ p1: 8, p2: 20 })
    // Another worker's partition over that ground (p1 moved from w3, which still runs it) is left
    // out: its report is from another moment and may count an entity w1 already has.
    t.accept(report('w3', 1, [['p1', 1, 30, { bounds: { ...bounds, maxX: 50 }, summary: [] }]]))
    expect(costs(leafLoads(map(2, 1), t, () => true))).toEqual({ p1: 20, p2: 20 })
  })

  it('spreads the load a split partition still holds over its pieces by where it lies', () => {
    const t = new LoadTable(5000, () => 0)
    // p0 (the whole world, w1's) was split into p1 and p2; w1 still runs p0 while its entities move:
    // 30 ms/s of it, a third on the left and two thirds on the right.
    const parent: Part = ['p0', 1, 30, {
      bounds,
      summary: [{ rect: { minX: 0, minY: 0, maxX: 50, maxY: 100 }, weight: 10 }, { rect: { minX: 50, minY: 0, maxX: 100, maxY: 100 }, weight: 20 }],
    }]
    // Both pieces stayed on w1.
    for (const seq of [1, 2]) t.accept(report('w1', seq, [['p1', 2, 1], ['p2', 2, 2], parent]))
    expect(costs(leafLoads(sameOwner(2, 2), t, () => true))).toEqual({ p1: 11, p2: 22 })
    // A piece without a whole window of its own gets its share too, as part of a lower bound.
    t.accept(report('w1', 3, [['p1', 2, 1], ['p2', 3, 2], parent]))
    const young = leafLoads(sameOwner(2, 3), t, () => true)
    expect(costs(young)).toEqual({ p1: 11, p2: 22 })
    expect(partial(young)).toEqual({ p1: false, p2: true })
  })
})
