/**
 * The load summary a worker reports: entity density as up to 64 weighted rectangles over the
 * partition, a coarse grid that the planner can split along. Only non-empty cells are listed.
 */
import type { Rect } from './game/types.ts'

export interface LoadRect extends Rect {
  /** Relative cost in the rectangle (entities, players counted extra). */
  weight: number
}

/**
 * Bin `count` weighted points into a grid of at most `maxRects` cells over `bounds` (points outside
 * fall into the edge cells) and return the non-empty cells.
 */
export function densityRects(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  weights: ArrayLike<number>,
  count: number,
  bounds: Readonly<Rect>,
  maxRects = 64,
): LoadRect[] {
  const side = Math.max(1, Math.floor(Math.sqrt(Math.max(1, Math.min(maxRects, 64)))))
  const w = (bounds.maxX - bounds.minX) / side
  const h = (bounds.maxY - bounds.minY) / side
  const cells = new Float64Array(side * side)
  for (let i = 0; i < count; i++) {
    const cx = Math.min(side - 1, Math.max(0, Math.floor(((xs[i] ?? 0) - bounds.minX) / w)))
    const cy = Math.min(side - 1, Math.max(0, Math.floor(((ys[i] ?? 0) - bounds.minY) / h)))
    const c = cy * side + cx
    cells[c] = (cells[c] ?? 0) + (weights[i] ?? 1)
  }
  const out: LoadRect[] = []
  for (let cy = 0; cy < side; cy++) {
    for (let cx = 0; cx < side; cx++) {
      const weight = cells[cy * side + cx] ?? 0
      if (weight === 0) continue
      out.push({
        minX: bounds.minX + cx * w,
        minY: bounds.minY + cy * h,
        maxX: cx === side - 1 ? bounds.maxX : bounds.minX + (cx + 1) * w,
        maxY: cy === side - 1 ? bounds.maxY : bounds.minY + (cy + 1) * h,
        weight,
      })
    }
  }
  return out
}
