/** Starting maps for simulations and benchmarks: a balanced k-d tree of n leaves. */
import type { Rect } from '../../core/geometry.ts'
import { longerAxis, span } from '../../core/geometry.ts'
import type { PartitionMap, PartitionNode } from '../../core/partition-map.ts'

/** A map of `n` leaves cut at middles along longer axes; leaf i (tree order) gets `ownerOf(i)`. */
export function balancedMap(worldId: string, bounds: Rect, n: number, ownerOf: (i: number) => string | null): PartitionMap {
  let nextId = 0
  let leafNo = 0
  const build = (r: Rect, count: number): PartitionNode => {
    const id = `p${nextId++}`
    if (count <= 1) return { kind: 'leaf', id, owner: ownerOf(leafNo++), epoch: 0 }
    const axis = longerAxis(r)
    const [lo, hi] = span(r, axis)
    const lowCount = Math.floor(count / 2)
    const at = lo + ((hi - lo) * lowCount) / count
    const low: Rect = axis === 'x' ? { ...r, maxX: at } : { ...r, maxY: at }
    const high: Rect = axis === 'x' ? { ...r, minX: at } : { ...r, minY: at }
    const lowNode = build(low, lowCount)
    const highNode = build(high, count - lowCount)
    return { kind: 'split', id, axis, at, low: lowNode, high: highNode }
  }
  const root = build(bounds, Math.max(1, n))
  return { worldId, bounds: { ...bounds }, version: 0, nextId, root }
}
