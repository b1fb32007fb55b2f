/**
 * Operator actions on a partition map, for the coordinator's HTTP API: split a leaf, merge a leaf
 * with its sibling. Pure: they return a new map (version + 1) or say why they cannot.
 */
import type { Axis } from '../../core/geometry.ts'
import { extent, longerAxis, span } from '../../core/geometry.ts'
import type { PartitionLeaf, PartitionMap, PartitionNode, PartitionSplit } from '../../core/partition-map.ts'
import { leafInfo } from '../../core/partition-map.ts'

export type OperatorError = 'not-found' | 'not-a-leaf' | 'pinned' | 'too-narrow' | 'bad-coordinate' | 'root' | 'sibling-not-leaf'

export type OperatorResult = { ok: true; map: PartitionMap } | { ok: false; error: OperatorError; message: string }

export interface SplitOptions {
  /** Axis to cut; default the leaf's longer axis. */
  axis?: Axis
  /** Where to cut; default the middle. */
  at?: number
  /** Narrowest allowed side (twice the ghost margin); default 0. */
  minWidth?: number
}

/** Cuts leaf `leafId` in two; both halves keep its owner, with epoch + 1 and fresh ids. */
export function splitLeaf(map: PartitionMap, leafId: string, options: SplitOptions = {}): OperatorResult {
  const info = leafInfo(map, leafId)
  if (!info) return fail(map, leafId)
  if (info.leaf.pinned) return { ok: false, error: 'pinned', message: `${leafId} is pinned` }
  const axis = options.axis ?? longerAxis(info.rect)
  const [lo, hi] = span(info.rect, axis)
  const min = options.minWidth ?? 0
  if (extent(info.rect, axis) < 2 * min) return { ok: false, error: 'too-narrow', message: `${leafId} is narrower than ${2 * min}` }
  const at = options.at ?? (lo + hi) / 2
  if (!(at > lo && at < hi) || at - lo < min || hi - at < min) {
    return { ok: false, error: 'bad-coordinate', message: `cut at ${at} must leave both sides at least ${min} wide inside (${lo}, ${hi})` }
  }
  const leaf = info.leaf
  const child = (n: number): PartitionLeaf => ({ kind: 'leaf', id: `p${n}`, owner: leaf.owner, epoch: leaf.epoch + 1 })
  const split: PartitionSplit = { kind: 'split', id: leaf.id, axis, at, low: child(map.nextId), high: child(map.nextId + 1) }
  return { ok: true, map: { ...map, version: map.version + 1, nextId: map.nextId + 2, root: replace(map.root, leafId, () => split) } }
}

/** Merges leaf `leafId` with its sibling (which must be a leaf too); the merged leaf keeps `leafId`'s owner. */
export function mergeLeaf(map: PartitionMap, leafId: string): OperatorResult {
  const info = leafInfo(map, leafId)
  if (!info) return fail(map, leafId)
  if (info.parentId === undefined) return { ok: false, error: 'root', message: `${leafId} is the whole world` }
  const parent = findSplit(map.root, info.parentId)
  if (!parent) return fail(map, leafId)
  const sibling = parent.low.id === leafId ? parent.high : parent.low
  if (sibling.kind !== 'leaf') return { ok: false, error: 'sibling-not-leaf', message: `${sibling.id} is split further` }
  if (info.leaf.pinned || sibling.pinned) return { ok: false, error: 'pinned', message: `${leafId} or ${sibling.id} is pinned` }
  const merged: PartitionLeaf = {
    kind: 'leaf', id: parent.id, owner: info.leaf.owner, epoch: Math.max(info.leaf.epoch, sibling.epoch) + 1,
  }
  return { ok: true, map: { ...map, version: map.version + 1, root: replace(map.root, parent.id, () => merged) } }
}

function fail(map: PartitionMap, id: string): OperatorResult {
  const exists = findSplit(map.root, id) !== undefined
  return exists
    ? { ok: false, error: 'not-a-leaf', message: `${id} is an inner node` }
    : { ok: false, error: 'not-found', message: `no partition ${id} in ${map.worldId}` }
}

function findSplit(node: PartitionNode, id: string): PartitionSplit | undefined {
  if (node.kind === 'leaf') return undefined
  if (node.id === id) return node
  return findSplit(node.low, id) ?? findSplit(node.high, id)
}

/** Copies the path down to node `id`, replacing it; everything off the path is shared. */
function replace(node: PartitionNode, id: string, make: () => PartitionNode): PartitionNode {
  if (node.id === id) return make()
  if (node.kind === 'leaf') return node
  const low = replace(node.low, id, make)
  const high = low === node.low ? replace(node.high, id, make) : node.high
  return low === node.low && high === node.high ? node : { ...node, low, high }
}

