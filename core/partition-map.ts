/**
 * The partition map of one world, as coordinator, workers and gateways share it (stored as JSON in
 * the cluster store): the world's bounds and a k-d tree whose leaves are the partitions.
 *
 * Rectangles are not stored: they follow from the bounds and the split lines, so a map cannot hold
 * overlapping or gapped leaves as long as every split line lies strictly inside its node.
 * Node ids name regions: when a leaf is split its id stays on the new inner node and the children
 * get fresh ids from `nextId`; when two sibling leaves merge, the merged leaf takes the inner
 * node's id back. Ids therefore depend only on the map's history, never on time or chance.
 */
import { z } from 'zod'
import type { Axis, Point, Rect } from './geometry.ts'
import { area, containsPoint, intersectionArea, splitRect } from './geometry.ts'

/** A partition: a leaf of the world's k-d tree. */
export interface PartitionLeaf {
  kind: 'leaf'
  id: string
  /** Worker that simulates it, or `null` while unassigned. */
  owner: string | null
  /** Grows on every owner change; messages about the partition carry it so stale ones are refused. */
  epoch: number
  /** Operator pin: the planner never moves, splits, merges or reshapes it (unless its owner dies). */
  pinned?: boolean
}

/** An inner node: cuts its rectangle at `at` on `axis`; `low` holds coordinates below `at`. */
export interface PartitionSplit {
  kind: 'split'
  id: string
  axis: Axis
  at: number
  low: PartitionNode
  high: PartitionNode
}

export type PartitionNode = PartitionLeaf | PartitionSplit

export interface PartitionMap {
  worldId: string
  bounds: Rect
  /** Grows by one with every change written by the coordinator (useful to spot stale copies). */
  version: number
  /** Next number for a fresh node id (`p<n>`). */
  nextId: number
  root: PartitionNode
}

/** A leaf with its derived rectangle and where it hangs in the tree. */
export interface LeafInfo {
  leaf: PartitionLeaf
  rect: Rect
  /** Inner node above it, `undefined` for a single-leaf map. */
  parentId: string | undefined
  depth: number
}

/** A stretch of border two leaves share: the line `axis = at` from `from` to `to` on the other axis. */
export interface BorderSegment {
  axis: Axis
  at: number
  from: number
  to: number
}

export interface Neighbour {
  id: string
  owner: string | null
  border: BorderSegment
}

export class PartitionMapError extends Error {
  readonly code = 'PARTITION_MAP_INVALID'
  readonly retryable = false
  constructor(message: string, readonly problems: readonly string[] = []) {
    super(message)
    this.name = 'PartitionMapError'
  }
}

/** A one-partition map (a room, or a world before its first split). */
export function createMap(worldId: string, bounds: Rect, owner: string | null = null): PartitionMap {
  return { worldId, bounds: { ...bounds }, version: 0, nextId: 1, root: { kind: 'leaf', id: 'p0', owner, epoch: 0 } }
}

/** Calls `visit` for every leaf with its rectangle, low side before high side. */
export function forEachLeaf(map: PartitionMap, visit: (info: LeafInfo) => void): void {
  const walk = (node: PartitionNode, r: Rect, parentId: string | undefined, depth: number): void => {
    if (node.kind === 'leaf') {
      visit({ leaf: node, rect: r, parentId, depth })
      return
    }
    const [low, high] = splitRect(r, node.axis, node.at)
    walk(node.low, low, node.id, depth + 1)
    walk(node.high, high, node.id, depth + 1)
  }
  walk(map.root, map.bounds, undefined, 0)
}

/** Every leaf with its rectangle, in tree order. */
export function leaves(map: PartitionMap): LeafInfo[] {
  const out: LeafInfo[] = []
  forEachLeaf(map, (info) => out.push(info))
  return out
}

/** The leaf whose rectangle holds `p` (the world's far edges included), or `undefined` outside the world. */
export function leafAt(map: PartitionMap, p: Point): PartitionLeaf | undefined {
  if (!containsPoint(map.bounds, p, true)) return undefined
  let node = map.root
  while (node.kind === 'split') node = (node.axis === 'x' ? p.x : p.y) < node.at ? node.low : node.high
  return node
}

/** Any node (leaf or inner) by id. */
export function findNode(map: PartitionMap, id: string): PartitionNode | undefined {
  const stack: PartitionNode[] = [map.root]
  while (stack.length > 0) {
    const node = stack.pop() as PartitionNode
    if (node.id === id) return node
    if (node.kind === 'split') stack.push(node.low, node.high)
  }
  return undefined
}

/** The leaf with its rectangle, or `undefined` when `id` is not a leaf of the map. */
export function leafInfo(map: PartitionMap, id: string): LeafInfo | undefined {
  let found: LeafInfo | undefined
  forEachLeaf(map, (info) => {
    if (info.leaf.id === id) found = info
  })
  return found
}

/** The shared border of two rectangles when they touch along a segment of positive length. */
export function sharedBorder(a: Rect, b: Rect): BorderSegment | undefined {
  const overlapY = Math.min(a.maxY, b.maxY) - Math.max(a.minY, b.minY)
  if (overlapY > 0 && (a.maxX === b.minX || b.maxX === a.minX)) {
    const at = a.maxX === b.minX ? a.maxX : a.minX
    return { axis: 'x', at, from: Math.max(a.minY, b.minY), to: Math.min(a.maxY, b.maxY) }
  }
  const overlapX = Math.min(a.maxX, b.maxX) - Math.max(a.minX, b.minX)
  if (overlapX > 0 && (a.maxY === b.minY || b.maxY === a.minY)) {
    const at = a.maxY === b.minY ? a.maxY : a.minY
    return { axis: 'y', at, from: Math.max(a.minX, b.minX), to: Math.min(a.maxX, b.maxX) }
  }
  return undefined
}

/** The owners of the leaves overlapping `rect` (by area): whoever holds that ground now. */
export function ownersOver(map: PartitionMap, rect: Rect): Set<string> {
  const out = new Set<string>()
  for (const { leaf, rect: r } of leaves(map)) if (leaf.owner && intersectionArea(r, rect) > 0) out.add(leaf.owner)
  return out
}

/** The leaves sharing a border segment with leaf `id` (empty when `id` is not a leaf). */
export function neighbours(map: PartitionMap, id: string): Neighbour[] {
  const all = leaves(map)
  const self = all.find((l) => l.leaf.id === id)
  if (!self) return []
  const out: Neighbour[] = []
  for (const other of all) {
    if (other.leaf.id === id) continue
    const border = sharedBorder(self.rect, other.rect)
    if (border) out.push({ id: other.leaf.id, owner: other.leaf.owner, border })
  }
  return out
}

/**
 * What is wrong with a map (empty when nothing): bounds of positive size, unique ids, every split
 * line strictly inside its node, whole non-negative epochs, and leaf areas summing to the world's.
 */
export function validateMap(map: PartitionMap): string[] {
  const problems: string[] = []
  const b = map.bounds
  if (!(b.minX < b.maxX && b.minY < b.maxY)) problems.push('bounds have no area')
  if (!Number.isInteger(map.version) || map.version < 0) problems.push('version is not a whole number >= 0')
  const ids = new Set<string>()
  let leafArea = 0
  const walk = (node: PartitionNode, r: Rect): void => {
    if (ids.has(node.id)) problems.push(`duplicate id ${node.id}`)
    ids.add(node.id)
    const n = /^p(\d+)$/.exec(node.id)
    if (n && Number(n[1]) >= map.nextId) problems.push(`id ${node.id} not below nextId ${map.nextId}`)
    if (node.kind === 'leaf') {
      if (!Number.isInteger(node.epoch) || node.epoch < 0) problems.push(`leaf ${node.id} has epoch ${node.epoch}`)
      leafArea += area(r)
      return
    }
    const [lo, hi] = node.axis === 'x' ? [r.minX, r.maxX] : [r.minY, r.maxY]
    if (!(node.at > lo && node.at < hi)) {
      problems.push(`node ${node.id} splits ${node.axis} at ${node.at} outside (${lo}, ${hi})`)
      return
    }
    const [low, high] = splitRect(r, node.axis, node.at)
    walk(node.low, low)
    walk(node.high, high)
  }
  walk(map.root, b)
  const worldArea = area(b)
  if (problems.length === 0 && Math.abs(leafArea - worldArea) > 1e-9 * Math.max(1, worldArea)) {
    problems.push(`leaves cover ${leafArea}, world is ${worldArea}`)
  }
  return problems
}

const finite = z.number().refine(Number.isFinite, 'must be finite')
const rectSchema = z.object({ minX: finite, minY: finite, maxX: finite, maxY: finite })
const leafSchema = z.object({
  kind: z.literal('leaf'),
  id: z.string().min(1),
  owner: z.string().min(1).nullable(),
  epoch: z.number().int().nonnegative(),
  pinned: z.boolean().optional(),
})
const nodeSchema: z.ZodType<PartitionNode> = z.lazy(() =>
  z.union([
    leafSchema,
    z.object({
      kind: z.literal('split'),
      id: z.string().min(1),
      axis: z.enum(['x', 'y']),
      at: finite,
      low: nodeSchema,
      high: nodeSchema,
    }),
  ]),
)
const mapSchema = z.object({
  worldId: z.string().min(1),
  bounds: rectSchema,
  version: z.number().int().nonnegative(),
  nextId: z.number().int().nonnegative(),
  root: nodeSchema,
})

/** JSON text for the cluster store. */
export function encodeMap(map: PartitionMap): string {
  return JSON.stringify(map)
}

/** Parses and checks a stored map; throws `PartitionMapError` on bad JSON, bad shape or bad geometry. */
export function decodeMap(json: string): PartitionMap {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (err) {
    throw new PartitionMapError(`partition map is not JSON: ${err instanceof Error ? err.message : String(err)}`)
  }
  const parsed = mapSchema.safeParse(raw)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new PartitionMapError('partition map has the wrong shape', problems)
  }
  const map = parsed.data as PartitionMap
  const problems = validateMap(map)
  if (problems.length > 0) throw new PartitionMapError('partition map does not tile its world', problems)
  return map
}
