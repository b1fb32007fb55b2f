/**
 * Turns what the coordinator knows (the store's view and the load table) into the planner's input.
 * A partition's report counts only when it comes from the leaf's current owner at the leaf's
 * current epoch: anything else describes a past that the map has moved on from. The first report
 * at that epoch counts only as a lower bound (`partial`): it measured the partition while its
 * entities were still being handed to it. Until the second one arrives the planner keeps the
 * estimate it made when it split, merged or moved the leaf, unless the partial figure is higher.
 */
import type { Rect } from '../core/geometry.ts'
import { area, containsPoint, intersection, intersectionArea, intersects } from '../core/geometry.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import { leaves } from '../core/partition-map.ts'
import type { LoadTable } from './load-table.ts'
import { measuredWholeWindow } from './load-table.ts'
import type { PartitionLoad, WorkerInfo, WorldInput } from './planner/index.ts'
import type { PartitionLoad as PartitionLoadReport } from '../proto/gen/tessera/v1/coordinator.ts'
import type { ClusterView } from './view.ts'

export function workerInfos(view: ClusterView): WorkerInfo[] {
  return view.liveWorkers().map((w) => {
    const info: WorkerInfo = { id: w.id, capacity: w.capacity, live: true, draining: w.draining, labels: w.labels }
    if (w.region !== undefined) info.region = w.region
    return info
  })
}

/**
 * Reported loads of a map's leaves, keyed by leaf id.
 *
 * A partition that was reshaped (split or merged) keeps running on its worker while it hands its
 * entities over to the new leaves, and the worker keeps reporting it under its old epoch. Those
 * entities are on their way to the leaves of the same worker that now cover that ground, so their
 * cost (located by the old partition's summary) is added to those leaves' own reports, taken in the
 * same report: every entity is counted once, where it will be. Reports of another worker (a leaf
 * that moved) are left out: taken at another moment, they may count an entity twice. A leaf whose own report is its first
 * at its epoch is marked `partial`: with what is still on its way to it, that is a lower bound, and
 * the planner keeps the larger of it and its own estimate.
 */
export function leafLoads(map: PartitionMap, loads: LoadTable, live: (workerId: string) => boolean = () => true): Record<string, PartitionLoad> {
  const out: Record<string, PartitionLoad> = {}
  const current = new Map(leaves(map).map((info) => [info.leaf.id, info]))
  const handingOver: Array<{ workerId: string; p: PartitionLoadReport }> = []
  for (const r of loads.fresh()) {
    for (const p of r.report.partitions) {
      const ref = p.partition
      if (!ref || ref.worldId !== map.worldId) continue
      const leaf = current.get(ref.partitionId)?.leaf
      if (leaf && leaf.owner === r.workerId && leaf.epoch === ref.epoch) {
        out[leaf.id] = {
          tickCostMs: p.tickCostMs,
          entities: p.entities,
          clients: p.clients,
          summary: summaryRects(p),
        }
        if (!measuredWholeWindow(r, p)) (out[leaf.id] as PartitionLoad).partial = true
      } else if (live(r.workerId) && p.tickCostMs > 0 && p.bounds) handingOver.push({ workerId: r.workerId, p })
    }
  }
  for (const { workerId, p } of handingOver) {
    const within = p.bounds as Rect
    const pieces = p.summary.length > 0 ? summaryRects(p) : [{ ...within, weight: p.tickCostMs }]
    for (const [id, load] of Object.entries(out)) {
      const info = current.get(id) as { rect: Rect; leaf: { owner: string | null } }
      // Only the leaf's own worker: its report measured both runners at one instant. Another
      // worker's report is from another moment, and an entity may be in both (a moved leaf keeps
      // the planner's estimate of all of it until its new owner has measured a whole window).
      if (info.leaf.owner !== workerId) continue
      const rect = info.rect
      if (!intersects(rect, within)) continue
      // An empty summary means "spread evenly": say so before adding pieces that are not.
      if (load.summary.length === 0 && load.tickCostMs > 0) load.summary.push({ ...rect, weight: load.tickCostMs })
      for (const piece of pieces) {
        const share = shareIn(piece, rect)
        if (!(share > 0)) continue
        const weight = piece.weight * share
        load.tickCostMs += weight
        load.summary.push({ ...(intersection(piece, rect) ?? clampedPoint(piece)), weight })
      }
    }
  }
  return out
}

/** A report's load summary as weighted rectangles (entries without a rectangle dropped). */
function summaryRects(p: PartitionLoadReport): Array<Rect & { weight: number }> {
  return p.summary.flatMap((w) => (w.rect ? [{ ...w.rect, weight: w.weight }] : []))
}

/** The share of `piece` (weight spread evenly over its area; one of no area is a point) inside `rect`. */
function shareIn(piece: Rect, rect: Rect): number {
  const a = area(piece)
  if (a > 0) return intersectionArea(piece, rect) / a
  return containsPoint(rect, { x: piece.minX, y: piece.minY }) ? 1 : 0
}

function clampedPoint(piece: Rect): Rect {
  return { minX: piece.minX, minY: piece.minY, maxX: piece.minX, maxY: piece.minY }
}

export function worldInputs(view: ClusterView, loads: LoadTable): WorldInput[] {
  const out: WorldInput[] = []
  for (const entry of view.maps.values()) {
    const map = entry.value
    // A room is one partition for its whole life: only its owner may change.
    const fixedLayout = view.world(map.worldId)?.kind === 'room'
    out.push({ map, loads: leafLoads(map, loads, (id) => view.worker(id) !== undefined), fixedLayout })
  }
  return out.sort((a, b) => (a.map.worldId < b.map.worldId ? -1 : 1))
}

/** Total reported load per worker (ms of simulation per second). */
export function workerLoads(loads: LoadTable): Record<string, number> {
  const out: Record<string, number> = {}
  for (const { workerId, report } of loads.fresh()) {
    out[workerId] = report.partitions.reduce((sum, p) => sum + p.tickCostMs, 0)
  }
  return out
}
