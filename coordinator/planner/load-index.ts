/**
 * Where a world's load lies: its partitions' summaries, scaled to their smoothed loads, in an
 * `rbush` R-tree that answers "how much load is in this rectangle" and "where along this axis does
 * the load reach a given amount" (the load-weighted median of a split, the target of a shift).
 *
 * Summary rectangles are treated as spreading their weight evenly over their area; a rectangle of
 * no area is a point. Partitions are indexed on first use: a round touches a few partitions out of
 * thousands, and bulk-loading every summary would cost more than the whole rest of the round.
 */
import RBush from 'rbush'
import type { Axis, Rect } from '../../core/geometry.ts'
import { area, containsPoint, intersection, intersectionArea, span } from '../../core/geometry.ts'
import type { LoadRect } from './types.ts'

interface Item extends Rect {
  /** Load carried by the whole item. */
  w: number
}

/** A source partition: its rectangle when the round began, its load, its summary. */
export interface IndexedLeaf {
  rect: Rect
  load: number
  summary: readonly LoadRect[]
}

export class LoadIndex {
  private readonly tree = new RBush<Item>(16)
  private readonly done = new Set<string>()

  /** `sources(rect)` lists the round's original leaves overlapping `rect` (by id). */
  constructor(private readonly sources: (rect: Rect) => Iterable<[string, IndexedLeaf]>) {}

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
    const [lo, hi] = span(r, axis)
    const items = this.itemsIn(r)
    return solveCumulative(items, axis, target, lo, hi)
  }

  /** The load-weighted median of `r` along `axis`, and the total load of `r`. */
  median(r: Rect, axis: Axis): { at: number; total: number } {
    const items = this.itemsIn(r)
    let total = 0
    for (const it of items) total += it.w
    const [lo, hi] = span(r, axis)
    return { at: solveCumulative(items, axis, total / 2, lo, hi), total }
  }

  /** Items of `r`, clipped to it, each weight scaled to the clipped share. */
  private itemsIn(r: Rect): Item[] {
    this.ensure(r)
    const out: Item[] = []
    for (const it of this.tree.search(r)) {
      const a = area(it)
      if (a === 0) {
        if (containsPoint(r, { x: it.minX, y: it.minY })) out.push(it)
        continue
      }
      const clip = intersection(it, r)
      if (clip) out.push({ ...clip, w: (it.w * area(clip)) / a })
    }
    return out
  }

  private ensure(r: Rect): void {
    let batch: Item[] | undefined
    for (const [id, leaf] of this.sources(r)) {
      if (this.done.has(id)) continue
      this.done.add(id)
      batch ??= []
      for (const it of leafItems(leaf)) batch.push(it)
    }
    // One bulk load per query: rbush packs the batch into a subtree instead of inserting item by item.
    if (batch && batch.length > 0) this.tree.load(batch)
  }
}

/** A leaf's summary as index items: clipped to the leaf, weights scaled to sum to its load. */
export function leafItems(leaf: IndexedLeaf): Item[] {
  if (leaf.load <= 0) return []
  const clipped: { r: Rect; weight: number }[] = []
  let sum = 0
  for (const s of leaf.summary) {
    if (!(s.weight > 0) || !Number.isFinite(s.weight)) continue
    const isPoint = s.minX === s.maxX && s.minY === s.maxY
    const r = isPoint ? (containsPoint(leaf.rect, { x: s.minX, y: s.minY }) ? s : undefined) : intersection(s, leaf.rect)
    if (!r) continue
    // A summary rectangle only partly inside keeps the share of its weight that lies inside.
    const weight = isPoint ? s.weight : (s.weight * area(r)) / Math.max(area(s), Number.MIN_VALUE)
    clipped.push({ r, weight })
    sum += weight
  }
  if (sum <= 0) return [{ ...leaf.rect, w: leaf.load }]
  return clipped.map(({ r, weight }) => ({ minX: r.minX, minY: r.minY, maxX: r.maxX, maxY: r.maxY, w: (leaf.load * weight) / sum }))
}

/**
 * Solves F(c) = target for the cumulative load F along `axis` over `[lo, hi]`, where every item
 * spreads its weight evenly over its extent (a point item adds its whole weight just above its
 * coordinate). F is piecewise linear, so a sweep over the sorted item edges finds c exactly.
 */
export function solveCumulative(items: readonly Item[], axis: Axis, target: number, lo: number, hi: number): number {
  if (items.length === 0) return (lo + hi) / 2
  const events: { at: number; slope: number; jump: number }[] = []
  let total = 0
  for (const it of items) {
    const [a, b] = span(it, axis)
    total += it.w
    if (b > a) {
      const s = it.w / (b - a)
      events.push({ at: a, slope: s, jump: 0 }, { at: b, slope: -s, jump: 0 })
    } else events.push({ at: a, slope: 0, jump: it.w })
  }
  if (total <= 0) return (lo + hi) / 2
  if (target <= 0) return lo
  if (target >= total) return hi
  events.sort((p, q) => p.at - q.at)
  let f = 0
  let slope = 0
  let x = lo
  for (const e of events) {
    if (e.at > x) {
      const next = f + slope * (e.at - x)
      if (next >= target && slope > 0) return x + (target - f) / slope
      f = next
      x = e.at
    }
    // Points sit on the high side of a line drawn through them: the line stops at the point.
    if (e.jump > 0 && f + e.jump >= target) return e.at
    f += e.jump
    slope += e.slope
  }
  return x
}
