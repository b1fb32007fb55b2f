/** Interpolation for the map's moving borders. */
import type { ApiRect } from '../../core/api/types.ts'

/** Smooth start and stop: the eye follows a border better than with a linear slide. */
export function easeInOutCubic(t: number): number {
  const x = Math.min(1, Math.max(0, t))
  return x < 0.5 ? 4 * x * x * x : 1 - (-2 * x + 2) ** 3 / 2
}

export function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t
}

export function lerpRect(a: ApiRect, b: ApiRect, t: number): ApiRect {
  return { minX: lerp(a.minX, b.minX, t), minY: lerp(a.minY, b.minY, t), maxX: lerp(a.maxX, b.maxX, t), maxY: lerp(a.maxY, b.maxY, t) }
}

/** A split line's two ends, from the split's axis, position and the rect it cuts. */
export interface Segment {
  x1: number
  y1: number
  x2: number
  y2: number
}

export function splitSegment(split: { axis: 'x' | 'y'; at: number; rect: ApiRect }): Segment {
  return split.axis === 'x'
    ? { x1: split.at, y1: split.rect.minY, x2: split.at, y2: split.rect.maxY }
    : { x1: split.rect.minX, y1: split.at, x2: split.rect.maxX, y2: split.at }
}

/** The same line shrunk to its midpoint: where a new split line grows from, and a removed one goes. */
export function collapsed(s: Segment): Segment {
  const x = (s.x1 + s.x2) / 2
  const y = (s.y1 + s.y2) / 2
  return { x1: x, y1: y, x2: x, y2: y }
}

export function lerpSegment(a: Segment, b: Segment, t: number): Segment {
  return { x1: lerp(a.x1, b.x1, t), y1: lerp(a.y1, b.y1, t), x2: lerp(a.x2, b.x2, t), y2: lerp(a.y2, b.y2, t) }
}
