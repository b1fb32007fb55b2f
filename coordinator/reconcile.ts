/**
 * Rebuilding a lost partition map from what live workers report they own. Workers keep simulating a
 * partition for a while after its map disappears and keep reporting it with its rectangle, epoch and
 * world bounds; from those leaves the leader rebuilds a k-d tree with the same ids, owners and
 * epochs, so nobody's partition changes hands because the store forgot it.
 *
 * The leaves of a k-d tree can always be separated again by guillotine cuts (each inner node's line
 * crosses its whole rectangle), so the rebuild recursively looks for a line that no reported leaf
 * straddles. Regions nobody reports become unowned leaves for the planner to assign.
 */
import type { Axis, Rect } from '../core/geometry.ts'
import type { PartitionLeaf, PartitionMap, PartitionNode } from '../core/partition-map.ts'

export interface ReportedLeaf {
  id: string
  rect: Rect
  owner: string
  epoch: number
}

/** The rebuilt map, or undefined when the reported leaves overlap or do not fit a k-d tree. */
export function rebuildMap(worldId: string, bounds: Rect, reported: readonly ReportedLeaf[]): PartitionMap | undefined {
  // Two owners reporting one leaf: the higher epoch is the current one.
  const byId = new Map<string, ReportedLeaf>()
  for (const leaf of reported) {
    const seen = byId.get(leaf.id)
    if (!seen || leaf.epoch > seen.epoch) byId.set(leaf.id, leaf)
  }
  const leaves = [...byId.values()].filter((l) => inside(bounds, l.rect))
  let nextId = 1 + Math.max(0, ...leaves.map((l) => numericId(l.id)))
  const freshId = () => `p${nextId++}`

  const build = (region: Rect, parts: ReportedLeaf[]): PartitionNode | undefined => {
    if (parts.length === 0) return { kind: 'leaf', id: freshId(), owner: null, epoch: 0 }
    const only = parts[0]
    if (parts.length === 1 && only && sameRect(only.rect, region)) {
      const leaf: PartitionLeaf = { kind: 'leaf', id: only.id, owner: only.owner, epoch: only.epoch }
      return leaf
    }
    const cut = findCut(region, parts)
    if (!cut) return undefined
    const { axis, at } = cut
    const lo = axis === 'x' ? { ...region, maxX: at } : { ...region, maxY: at }
    const hi = axis === 'x' ? { ...region, minX: at } : { ...region, minY: at }
    const low = build(lo, parts.filter((p) => (axis === 'x' ? p.rect.maxX <= at : p.rect.maxY <= at)))
    const high = build(hi, parts.filter((p) => (axis === 'x' ? p.rect.minX >= at : p.rect.minY >= at)))
    if (!low || !high) return undefined
    return { kind: 'split', id: freshId(), axis, at, low, high }
  }

  const root = build(bounds, leaves)
  if (!root) return undefined
  return { worldId, bounds: { ...bounds }, version: 1, nextId, root }
}

/** A line strictly inside `region` that no part straddles, preferring one that has parts on both sides. */
function findCut(region: Rect, parts: readonly ReportedLeaf[]): { axis: Axis; at: number } | undefined {
  for (const axis of ['x', 'y'] as const) {
    const [min, max] = axis === 'x' ? [region.minX, region.maxX] : [region.minY, region.maxY]
    const edges = new Set<number>()
    for (const p of parts) {
      const [a, b] = axis === 'x' ? [p.rect.minX, p.rect.maxX] : [p.rect.minY, p.rect.maxY]
      if (a > min && a < max) edges.add(a)
      if (b > min && b < max) edges.add(b)
    }
    for (const at of [...edges].sort((a, b) => a - b)) {
      const straddles = parts.some((p) => {
        const [a, b] = axis === 'x' ? [p.rect.minX, p.rect.maxX] : [p.rect.minY, p.rect.maxY]
        return a < at && b > at
      })
      if (!straddles) return { axis, at }
    }
  }
  return undefined
}

function inside(outer: Rect, r: Rect): boolean {
  return r.minX >= outer.minX && r.minY >= outer.minY && r.maxX <= outer.maxX && r.maxY <= outer.maxY && r.maxX > r.minX && r.maxY > r.minY
}

function sameRect(a: Rect, b: Rect): boolean {
  return a.minX === b.minX && a.minY === b.minY && a.maxX === b.maxX && a.maxY === b.maxY
}

function numericId(id: string): number {
  const m = /^p(\d+)$/.exec(id)
  return m ? Number(m[1]) : 0
}
