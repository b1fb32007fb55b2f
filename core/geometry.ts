/**
 * Plane geometry shared by the coordinator's planner and the workers' interest code: axis-aligned
 * rectangles (the `rbush` item shape) and points. Everything here is pure and allocation-light.
 *
 * Rectangles are half-open for point membership (`min <= p < max`), so a plane cut into tiles gives
 * every point exactly one tile; the world's own far edges are closed (see `containsPoint`'s flag).
 */

export interface Point {
  x: number
  y: number
}

/** An axis-aligned rectangle, field names as `rbush` expects. */
export interface Rect {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

export type Axis = 'x' | 'y'

export function rect(minX: number, minY: number, maxX: number, maxY: number): Rect {
  return { minX, minY, maxX, maxY }
}

export function width(r: Rect): number {
  return r.maxX - r.minX
}

export function height(r: Rect): number {
  return r.maxY - r.minY
}

export function area(r: Rect): number {
  return Math.max(0, r.maxX - r.minX) * Math.max(0, r.maxY - r.minY)
}

/** Extent of `r` along `axis`. */
export function extent(r: Rect, axis: Axis): number {
  return axis === 'x' ? r.maxX - r.minX : r.maxY - r.minY
}

/** Lower and upper coordinate of `r` along `axis`. */
export function span(r: Rect, axis: Axis): [number, number] {
  return axis === 'x' ? [r.minX, r.maxX] : [r.minY, r.maxY]
}

/** The axis along which `r` is longer; `x` on a tie so the choice is deterministic. */
export function longerAxis(r: Rect): Axis {
  return height(r) > width(r) ? 'y' : 'x'
}

export function otherAxis(axis: Axis): Axis {
  return axis === 'x' ? 'y' : 'x'
}

export function center(r: Rect): Point {
  return { x: (r.minX + r.maxX) / 2, y: (r.minY + r.maxY) / 2 }
}

/** Whether `p` lies in `r`, half-open (`min <= p < max`); `closed` also admits the max edges. */
export function containsPoint(r: Rect, p: Point, closed = false): boolean {
  if (closed) return p.x >= r.minX && p.x <= r.maxX && p.y >= r.minY && p.y <= r.maxY
  return p.x >= r.minX && p.x < r.maxX && p.y >= r.minY && p.y < r.maxY
}

/** Whether `inner` lies entirely inside `outer` (edges may touch). */
export function containsRect(outer: Rect, inner: Rect): boolean {
  return inner.minX >= outer.minX && inner.maxX <= outer.maxX && inner.minY >= outer.minY && inner.maxY <= outer.maxY
}

/** Whether the two rectangles share an area of positive size (touching edges do not count). */
export function intersects(a: Rect, b: Rect): boolean {
  return a.minX < b.maxX && b.minX < a.maxX && a.minY < b.maxY && b.minY < a.maxY
}

/** The overlap of two rectangles, or `undefined` when they share no positive area. */
export function intersection(a: Rect, b: Rect): Rect | undefined {
  const r = {
    minX: Math.max(a.minX, b.minX),
    minY: Math.max(a.minY, b.minY),
    maxX: Math.min(a.maxX, b.maxX),
    maxY: Math.min(a.maxY, b.maxY),
  }
  return r.minX < r.maxX && r.minY < r.maxY ? r : undefined
}

export function intersectionArea(a: Rect, b: Rect): number {
  const w = Math.min(a.maxX, b.maxX) - Math.max(a.minX, b.minX)
  const h = Math.min(a.maxY, b.maxY) - Math.max(a.minY, b.minY)
  return w > 0 && h > 0 ? w * h : 0
}

/** The smallest rectangle holding both. */
export function union(a: Rect, b: Rect): Rect {
  return {
    minX: Math.min(a.minX, b.minX),
    minY: Math.min(a.minY, b.minY),
    maxX: Math.max(a.maxX, b.maxX),
    maxY: Math.max(a.maxY, b.maxY),
  }
}

/** Cuts `r` at coordinate `at` on `axis` into its low and high parts (`at` is not checked). */
export function splitRect(r: Rect, axis: Axis, at: number): [low: Rect, high: Rect] {
  if (axis === 'x') {
    return [
      { minX: r.minX, minY: r.minY, maxX: at, maxY: r.maxY },
      { minX: at, minY: r.minY, maxX: r.maxX, maxY: r.maxY },
    ]
  }
  return [
    { minX: r.minX, minY: r.minY, maxX: r.maxX, maxY: at },
    { minX: r.minX, minY: at, maxX: r.maxX, maxY: r.maxY },
  ]
}

export function rectEquals(a: Rect, b: Rect): boolean {
  return a.minX === b.minX && a.minY === b.minY && a.maxX === b.maxX && a.maxY === b.maxY
}

/** The point of `r` nearest to `p` (the point itself when inside). */
export function clampPoint(r: Rect, p: Point): Point {
  return { x: Math.min(r.maxX, Math.max(r.minX, p.x)), y: Math.min(r.maxY, Math.max(r.minY, p.y)) }
}

/** Squared distance from `p` to the nearest point of `r` (0 inside): interest radius tests. */
export function distanceSquaredToRect(r: Rect, p: Point): number {
  const dx = p.x < r.minX ? r.minX - p.x : p.x > r.maxX ? p.x - r.maxX : 0
  const dy = p.y < r.minY ? r.minY - p.y : p.y > r.maxY ? p.y - r.maxY : 0
  return dx * dx + dy * dy
}

/** `r` grown by `d` on every side (shrunk when negative, never below zero size). */
export function expand(r: Rect, d: number): Rect {
  const cx = (r.minX + r.maxX) / 2
  const cy = (r.minY + r.maxY) / 2
  return {
    minX: Math.min(cx, r.minX - d),
    minY: Math.min(cy, r.minY - d),
    maxX: Math.max(cx, r.maxX + d),
    maxY: Math.max(cy, r.maxY + d),
  }
}
