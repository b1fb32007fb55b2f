/**
 * Where a world's load lies: its partitions' summaries, scaled to their smoothed loads, in an
 * `rbush` R-tree that answers "how much load is in this rectangle" and "where along this axis does
 * the load reach a given amount" (the load-weighted median of a split, the target of a shift).
 *
 * Summary rectangles are treated as spreading their weight evenly over their area; a rectangle of
 * no area is a point. Partitions are indexed on first use: a round touches a few partitions out of
 * thousands, and bulk-loading every summary would cost more than the whole rest of the round.
 *
 * Queries allocate next to nothing: the clipped pieces a median or a shift target is solved over go
 * into typed arrays the index keeps, not into an object per piece. A planning round runs every
 * second beside 100,000 freshly reported rectangles; what it allocates decides how often V8 must
 * collect the old generation, and those collections used to land inside the round.
 */
import RBush from 'rbush'
import type { Axis, Rect } from '../../core/geometry.ts'
import { area, containsPoint, intersection, intersectionArea } from '../../core/geometry.ts'
import type { LoadRect } from './types.ts'

export interface Item extends Rect {
  /** Load carried by the whole item. */
  w: number
}

/** A source partition: its rectangle when the round began, its load, its summary. */
export interface IndexedLeaf {
  rect: Rect
  load: number
  summary: readonly LoadRect[]
}

/** The round's original leaves, as the index asks for them. */
export interface LeafSource {
  /** Calls `visit` for every original leaf overlapping `r`, in a fixed order (it decides the tree's shape). */
  overlapping(r: Rect, visit: (id: string, minX: number, minY: number, maxX: number, maxY: number) => void): void
  /** Load and summary of original leaf `id`, whose rectangle is `rect`. */
  leaf(id: string, rect: Rect): IndexedLeaf
}

export class LoadIndex {
  private readonly tree = new RBush<Item>(16)
  private readonly done = new Set<string>()
  /** Items of the leaves first met by the current query; reused (rbush copies what it loads). */
  private readonly batch: Item[] = []
  private readonly pieces = new Pieces()
  /** Scratch for `pushLeafItems`. */
  private weights: Float64Array = new Float64Array(64)
  private readonly visit = (id: string, minX: number, minY: number, maxX: number, maxY: number): void => {
    if (this.done.has(id)) return
    this.done.add(id)
    this.weights = pushLeafItems(this.source.leaf(id, { minX, minY, maxX, maxY }), this.batch, this.weights)
  }

  constructor(private readonly source: LeafSource) {}

  /** Load inside `r`. */
  loadIn(r: Rect): number {
    this.ensure(r)
    let sum = 0
    for (const it of this.tree.search(r)) {
      const a = area(it)
      if (a === 0) {
        if (containsPoint(r, { x: it.minX, y: it.minY })) sum += it.w
      } else sum += (it.w * intersectionArea(it, r)) / a
    }
    return sum
  }

  /**
   * The coordinate `c` on `axis` at which the load of `r` below `c` equals `target` (clamped to the
   * total). Returns the middle of `r` when `r` holds no load.
   */
  coordinateAt(r: Rect, axis: Axis, target: number): number {
    this.collect(r, axis)
    const [lo, hi] = axis === 'x' ? [r.minX, r.maxX] : [r.minY, r.maxY]
    return this.pieces.solve(target, lo, hi)
  }

  /** The load-weighted median of `r` along `axis`, and the total load of `r`. */
  median(r: Rect, axis: Axis): { at: number; total: number } {
    this.collect(r, axis)
    const total = this.pieces.total()
    const [lo, hi] = axis === 'x' ? [r.minX, r.maxX] : [r.minY, r.maxY]
    return { at: this.pieces.solve(total / 2, lo, hi), total }
  }

  /** The items of `r`, clipped to it, each weight scaled to the clipped share, as spans along `axis`. */
  private collect(r: Rect, axis: Axis): void {
    this.ensure(r)
    const pieces = this.pieces
    pieces.clear()
    for (const it of this.tree.search(r)) {
      const a = area(it)
      if (a === 0) {
        if (containsPoint(r, { x: it.minX, y: it.minY })) {
          if (axis === 'x') pieces.push(it.minX, it.maxX, it.w)
          else pieces.push(it.minY, it.maxY, it.w)
        }
        continue
      }
      // `intersection` and `area` of the clip, without the rectangle object.
      const minX = Math.max(it.minX, r.minX)
      const minY = Math.max(it.minY, r.minY)
      const maxX = Math.min(it.maxX, r.maxX)
      const maxY = Math.min(it.maxY, r.maxY)
      if (!(minX < maxX && minY < maxY)) continue
      const w = (it.w * (Math.max(0, maxX - minX) * Math.max(0, maxY - minY))) / a
      if (axis === 'x') pieces.push(minX, maxX, w)
      else pieces.push(minY, maxY, w)
    }
  }

  private ensure(r: Rect): void {
    this.source.overlapping(r, this.visit)
    // One bulk load per query: rbush packs the batch into a subtree instead of inserting item by item.
    if (this.batch.length > 0) {
      this.tree.load(this.batch)
      this.batch.length = 0
    }
  }
}

/** A leaf's summary as index items: clipped to the leaf, weights scaled to sum to its load. */
export function leafItems(leaf: IndexedLeaf): Item[] {
  const out: Item[] = []
  pushLeafItems(leaf, out, new Float64Array(leaf.summary.length))
  return out
}

/**
 * `leafItems`, appended to `out`. Each summary rectangle's weight inside the leaf goes into
 * `weights` (a scratch array, returned grown when it was too short; NaN marks a rectangle that
 * counts for nothing), so that no list of clipped pieces is made.
 */
function pushLeafItems(leaf: IndexedLeaf, out: Item[], weights: Float64Array): Float64Array {
  if (leaf.load <= 0) return weights
  const { rect, summary } = leaf
  if (weights.length < summary.length) weights = new Float64Array(2 * summary.length)
  let sum = 0
  for (let i = 0; i < summary.length; i++) {
    const s = summary[i] as LoadRect
    let weight = Number.NaN
    if (s.weight > 0 && Number.isFinite(s.weight)) {
      if (isPoint(s)) {
        if (s.minX >= rect.minX && s.minX < rect.maxX && s.minY >= rect.minY && s.minY < rect.maxY) weight = s.weight
      } else {
        // A rectangle only partly inside keeps the share of its weight that lies inside (the
        // clip's sides as `intersection` would make them, without the rectangle object).
        const w = Math.min(s.maxX, rect.maxX) - Math.max(s.minX, rect.minX)
        const h = Math.min(s.maxY, rect.maxY) - Math.max(s.minY, rect.minY)
        if (w > 0 && h > 0) weight = (s.weight * (w * h)) / Math.max(area(s), Number.MIN_VALUE)
      }
    }
    weights[i] = weight
    if (!Number.isNaN(weight)) sum += weight
  }
  if (sum <= 0) {
    out.push({ ...rect, w: leaf.load })
    return weights
  }
  for (let i = 0; i < summary.length; i++) {
    const weight = weights[i] as number
    if (Number.isNaN(weight)) continue
    const s = summary[i] as LoadRect
    const r = isPoint(s) ? s : (intersection(s, rect) as Rect)
    out.push({ minX: r.minX, minY: r.minY, maxX: r.maxX, maxY: r.maxY, w: (leaf.load * weight) / sum })
  }
  return weights
}

function isPoint(s: Rect): boolean {
  return s.minX === s.maxX && s.minY === s.maxY
}

/**
 * Solves F(c) = target for the cumulative load F along `axis` over `[lo, hi]`, where every item
 * spreads its weight evenly over its extent (a point item adds its whole weight just above its
 * coordinate). F is piecewise linear, so a sweep over the sorted item edges finds c exactly.
 */
export function solveCumulative(items: readonly Item[], axis: Axis, target: number, lo: number, hi: number): number {
  const pieces = new Pieces()
  for (const it of items) {
    if (axis === 'x') pieces.push(it.minX, it.maxX, it.w)
    else pieces.push(it.minY, it.maxY, it.w)
  }
  return pieces.solve(target, lo, hi)
}

/** Weighted spans along one axis, in typed arrays that grow and are reused from query to query. */
class Pieces {
  private n = 0
  private from: Float64Array = new Float64Array(256)
  private to: Float64Array = new Float64Array(256)
  private weight: Float64Array = new Float64Array(256)
  // Sweep events: two per span (its start and end change the slope), one per point (a jump).
  private at = new Float64Array(512)
  private slope = new Float64Array(512)
  private jump = new Float64Array(512)
  private readonly order: number[] = []
  /** Events by coordinate; ties keep the order they were made in. */
  private readonly byAt = (p: number, q: number): number => (this.at[p] as number) - (this.at[q] as number) || p - q

  clear(): void {
    this.n = 0
  }

  push(from: number, to: number, weight: number): void {
    if (this.n === this.from.length) {
      this.from = grow(this.from)
      this.to = grow(this.to)
      this.weight = grow(this.weight)
    }
    this.from[this.n] = from
    this.to[this.n] = to
    this.weight[this.n] = weight
    this.n++
  }

  /** The summed weight, in push order. */
  total(): number {
    let total = 0
    for (let i = 0; i < this.n; i++) total += this.weight[i] as number
    return total
  }

  /** See `solveCumulative`. */
  solve(target: number, lo: number, hi: number): number {
    const n = this.n
    if (n === 0) return (lo + hi) / 2
    if (this.at.length < 2 * n) {
      this.at = new Float64Array(4 * n)
      this.slope = new Float64Array(4 * n)
      this.jump = new Float64Array(4 * n)
    }
    const { at, slope: dSlope, jump } = this
    let events = 0
    let total = 0
    for (let i = 0; i < n; i++) {
      const a = this.from[i] as number
      const b = this.to[i] as number
      const w = this.weight[i] as number
      total += w
      if (b > a) {
        const s = w / (b - a)
        at[events] = a
        dSlope[events] = s
        jump[events++] = 0
        at[events] = b
        dSlope[events] = -s
        jump[events++] = 0
      } else {
        at[events] = a
        dSlope[events] = 0
        jump[events++] = w
      }
    }
    if (total <= 0) return (lo + hi) / 2
    if (target <= 0) return lo
    if (target >= total) return hi
    const order = this.order
    order.length = events
    for (let e = 0; e < events; e++) order[e] = e
    order.sort(this.byAt)
    let f = 0
    let slope = 0
    let x = lo
    for (let k = 0; k < events; k++) {
      const e = order[k] as number
      const eAt = at[e] as number
      const eJump = jump[e] as number
      if (eAt > x) {
        const next = f + slope * (eAt - x)
        if (next >= target && slope > 0) return x + (target - f) / slope
        f = next
        x = eAt
      }
      // Points sit on the high side of a line drawn through them: the line stops at the point.
      if (eJump > 0 && f + eJump >= target) return eAt
      f += eJump
      slope += dSlope[e] as number
    }
    return x
  }
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(2 * a.length)
  b.set(a)
  return b
}
