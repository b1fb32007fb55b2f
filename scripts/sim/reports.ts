/**
 * Turning "where the load is" into the load reports workers would send: per leaf, the tick cost,
 * entity count and a summary of at most 64 weighted rectangles (an 8 × 8 grid over the leaf, empty
 * cells left out).
 */
import type { Point, Rect } from '../../core/geometry.ts'
import { area, containsRect, intersection, splitRect } from '../../core/geometry.ts'
import type { PartitionMap, PartitionNode } from '../../core/partition-map.ts'
import { forEachLeaf, leafAt } from '../../core/partition-map.ts'
import type { LoadRect, PartitionLoad } from '../../coordinator/planner/types.ts'

/** Summary grid per side: 8 × 8 = 64 rectangles at most. */
export const SUMMARY_GRID = 8

/** Reports for entities at `points`, each costing `costPerEntity`. */
export function reportsFromPoints(map: PartitionMap, points: readonly Point[], costPerEntity: number): Record<string, PartitionLoad> {
  const rects = new Map<string, Rect>()
  const cells = new Map<string, Float64Array>()
  forEachLeaf(map, ({ leaf, rect }) => {
    rects.set(leaf.id, rect)
    cells.set(leaf.id, new Float64Array(SUMMARY_GRID * SUMMARY_GRID))
  })
  const counts = new Map<string, number>()
  for (const p of points) {
    const leaf = leafAt(map, p)
    if (!leaf) continue
    const r = rects.get(leaf.id) as Rect
    const grid = cells.get(leaf.id) as Float64Array
    const cx = Math.min(SUMMARY_GRID - 1, Math.floor(((p.x - r.minX) / (r.maxX - r.minX)) * SUMMARY_GRID))
    const cy = Math.min(SUMMARY_GRID - 1, Math.floor(((p.y - r.minY) / (r.maxY - r.minY)) * SUMMARY_GRID))
    grid[cy * SUMMARY_GRID + cx] = (grid[cy * SUMMARY_GRID + cx] ?? 0) + 1
    counts.set(leaf.id, (counts.get(leaf.id) ?? 0) + 1)
  }
  const out: Record<string, PartitionLoad> = {}
  for (const [id, r] of rects) {
    const n = counts.get(id) ?? 0
    out[id] = { tickCostMs: n * costPerEntity, entities: n, clients: 0, summary: gridSummary(r, cells.get(id) as Float64Array) }
  }
  return out
}

function gridSummary(r: Rect, grid: Float64Array): LoadRect[] {
  const out: LoadRect[] = []
  const w = (r.maxX - r.minX) / SUMMARY_GRID
  const h = (r.maxY - r.minY) / SUMMARY_GRID
  for (let cy = 0; cy < SUMMARY_GRID; cy++) {
    for (let cx = 0; cx < SUMMARY_GRID; cx++) {
      const weight = grid[cy * SUMMARY_GRID + cx] ?? 0
      if (weight <= 0) continue
      out.push({
        minX: r.minX + cx * w, minY: r.minY + cy * h,
        maxX: cx === SUMMARY_GRID - 1 ? r.maxX : r.minX + (cx + 1) * w,
        maxY: cy === SUMMARY_GRID - 1 ? r.maxY : r.minY + (cy + 1) * h, weight,
      })
    }
  }
  return out
}

/**
 * Reports for a load field of weighted rectangles (weight spread evenly over each): each leaf gets
 * the share of every rectangle that overlaps it, found by descending the k-d tree. With more than
 * 64 overlapping pieces a leaf's summary falls back to the 8 × 8 grid.
 */
export function reportsFromField(map: PartitionMap, field: readonly LoadRect[]): Record<string, PartitionLoad> {
  const pieces = new Map<string, LoadRect[]>()
  const rects = new Map<string, Rect>()
  forEachLeaf(map, ({ leaf, rect }) => {
    pieces.set(leaf.id, [])
    rects.set(leaf.id, rect)
  })
  const stack: [PartitionNode, Rect][] = []
  for (const f of field) {
    const fa = area(f)
    if (!(fa > 0)) continue
    stack.push([map.root, map.bounds])
    while (stack.length > 0) {
      const [node, r] = stack.pop() as [PartitionNode, Rect]
      if (node.kind === 'leaf' && containsRect(r, f)) {
        // Wholly inside: the rectangle itself is the piece (no copy for the common case).
        ;(pieces.get(node.id) as LoadRect[]).push(f)
        continue
      }
      const clip = intersection(f, r)
      if (!clip) continue
      if (node.kind === 'leaf') {
        ;(pieces.get(node.id) as LoadRect[]).push({ ...clip, weight: (f.weight * area(clip)) / fa })
        continue
      }
      const [lo, hi] = splitRect(r, node.axis, node.at)
      stack.push([node.low, lo], [node.high, hi])
    }
  }
  const out: Record<string, PartitionLoad> = {}
  for (const [id, list] of pieces) {
    const cost = list.reduce((s, p) => s + p.weight, 0)
    const summary = list.length <= 64 ? list : coarsen(rects.get(id) as Rect, list)
    out[id] = { tickCostMs: cost, entities: 0, clients: 0, summary }
  }
  return out
}

function coarsen(r: Rect, pieces: readonly LoadRect[]): LoadRect[] {
  const grid = new Float64Array(SUMMARY_GRID * SUMMARY_GRID)
  const w = (r.maxX - r.minX) / SUMMARY_GRID
  const h = (r.maxY - r.minY) / SUMMARY_GRID
  for (const p of pieces) {
    const cx = Math.min(SUMMARY_GRID - 1, Math.floor(((p.minX + p.maxX) / 2 - r.minX) / w))
    const cy = Math.min(SUMMARY_GRID - 1, Math.floor(((p.minY + p.maxY) / 2 - r.minY) / h))
    grid[cy * SUMMARY_GRID + cx] = (grid[cy * SUMMARY_GRID + cx] ?? 0) + p.weight
  }
  return gridSummary(r, grid)
}
