/**
 * The planner's scratch copy of a world: the k-d tree with parent links and loads, so a round can
 * split, merge, shift and reassign in place without touching its input. `toMap` turns it back into
 * a plain `PartitionMap`, sharing every untouched subtree with the input map (maps are values).
 *
 * Rectangles are derived on demand and cached: a round looks at a handful of rectangles out of
 * thousands, and building them all would cost more than the decisions.
 */
import type { Axis, Rect } from '../../core/geometry.ts'
import { rectEquals, splitRect } from '../../core/geometry.ts'
import type { PartitionLeaf, PartitionMap, PartitionNode, PartitionSplit } from '../../core/partition-map.ts'
import type { LeafSource } from './load-index.ts'
import { LoadIndex } from './load-index.ts'
import type { WorldInput } from './types.ts'

abstract class WBase {
  parent: WSplit | undefined = undefined
  /** Created this round (by a split or merge): not reshaped again until the next round. */
  born = false
  /** Differs from `src` (or has no `src`): `toMap` must build it anew. */
  dirty = false
  private cachedRect: Rect | undefined = undefined

  constructor(readonly world: WWorld, readonly id: string, public src: PartitionNode | undefined) {}

  get rect(): Rect {
    if (this.cachedRect) return this.cachedRect
    const p = this.parent
    if (!p) return (this.cachedRect = this.world.source.bounds)
    const [lo, hi] = splitRect(p.rect, p.axis, p.at)
    p.low.cachedRect = lo
    p.high.cachedRect = hi
    return (this as WBase) === p.low ? lo : hi
  }

  set rect(r: Rect) {
    this.cachedRect = r
  }

  /** Marks this node and its ancestors as changed. */
  touch(): void {
    if (!this.dirty) {
      this.dirty = true
      for (let n = this.parent; n && !n.dirty; n = n.parent) n.dirty = true
    }
    this.world.changed = true
  }
}

export class WLeaf extends WBase {
  readonly kind = 'leaf'
  constructor(
    world: WWorld, id: string, src: PartitionLeaf | undefined,
    public owner: string | null, public epoch: number, public pinned: boolean,
    /** Smoothed load (ms/s). */
    public load: number,
  ) {
    super(world, id, src)
  }
}

export class WSplit extends WBase {
  readonly kind = 'split'
  low!: WNode
  high!: WNode
  constructor(world: WWorld, id: string, src: PartitionSplit | undefined, readonly axis: Axis, public at: number) {
    super(world, id, src)
  }
}

export type WNode = WLeaf | WSplit

export interface WWorld {
  worldId: string
  source: PartitionMap
  root: WNode
  nextId: number
  changed: boolean
  /** See `WorldInput.fixedLayout`. */
  fixedLayout: boolean
  index: LoadIndex
  /** Current leaves by id. */
  leaves: Map<string, WLeaf>
  /** Current inner nodes by id. */
  splits: Map<string, WSplit>
  /** Leaves made this round (by splits and merges), in the order they were made; some may be gone again. */
  created: WLeaf[]
}

/**
 * The scratch copy of `input`; `loadOf(leafId)` gives each leaf's smoothed load. `kept`, the copy
 * the previous round ended with, is taken up again when `input.map` is node for node the map that
 * round produced (the usual case: one round's output is the next one's input, directly or through
 * the store): its 20,000-odd objects are then reset rather than built anew, which is most of what a
 * round would otherwise allocate. Anything else — another world, a map changed by an operator or
 * another leader — gets a fresh copy, so the result never depends on what was kept.
 */
export function toWork(input: WorldInput, loadOf: (id: string) => number, kept?: WWorld): WWorld {
  const map = input.map
  const index = new LoadIndex(originalLeaves(input, loadOf))
  const fixedLayout = input.fixedLayout === true
  if (kept && kept.worldId === map.worldId && rectEquals(kept.source.bounds, map.bounds) && adopt(kept.root, map.root, loadOf)) {
    kept.source = map
    kept.nextId = map.nextId
    kept.changed = false
    kept.fixedLayout = fixedLayout
    kept.index = index
    kept.created = []
    return kept
  }
  const world: WWorld = {
    worldId: map.worldId, source: map, root: undefined as unknown as WNode, nextId: map.nextId, changed: false,
    fixedLayout, index, leaves: new Map(), splits: new Map(), created: [],
  }
  const build = (node: PartitionNode, parent: WSplit | undefined): WNode => {
    let w: WNode
    if (node.kind === 'leaf') {
      w = new WLeaf(world, node.id, node, node.owner, node.epoch, node.pinned === true, loadOf(node.id))
      world.leaves.set(node.id, w)
    } else {
      w = new WSplit(world, node.id, node, node.axis, node.at)
      world.splits.set(node.id, w)
      w.low = build(node.low, w)
      w.high = build(node.high, w)
    }
    w.parent = parent
    return w
  }
  world.root = build(map.root, undefined)
  return world
}

/**
 * Lets go of what only the round that just ended needed, before the copy is kept for the next: the
 * load index and through it that round's load reports (100,000-odd rectangles), which would
 * otherwise live a round longer and be promoted to the old generation for nothing.
 */
export function release(world: WWorld): void {
  world.index = new LoadIndex(NO_LEAVES)
  world.created = []
}

/** The source of an index that is never asked. */
const NO_LEAVES: LeafSource = {
  overlapping() {},
  leaf(_id, rect) {
    return { rect, load: 0, summary: [] }
  },
}

/**
 * Whether the kept subtree `w` has the shape of `node` (same ids, kinds, axes and lines); if so it
 * is made the scratch copy of `node` as `toWork` would build it: same source, owner, epoch, pin and
 * load, nothing born or dirty. Cached rectangles stay: they follow from the lines, which are equal.
 */
function adopt(w: WNode, node: PartitionNode, loadOf: (id: string) => number): boolean {
  if (w.id !== node.id || w.kind !== node.kind) return false
  w.src = node
  w.born = false
  w.dirty = false
  if (w.kind === 'leaf' && node.kind === 'leaf') {
    w.owner = node.owner
    w.epoch = node.epoch
    w.pinned = node.pinned === true
    w.load = loadOf(node.id)
    return true
  }
  if (w.kind !== 'split' || node.kind !== 'split' || w.axis !== node.axis || w.at !== node.at) return false
  return adopt(w.low, node.low, loadOf) && adopt(w.high, node.high, loadOf)
}

/**
 * The input map's leaves overlapping a rectangle, found by descending the input tree. The descent
 * keeps its rectangles as numbers on a reused stack: the index asks once per query, hundreds of
 * times a round.
 */
function originalLeaves(input: WorldInput, loadOf: (id: string) => number): LeafSource {
  const nodes: PartitionNode[] = []
  let rects = new Float64Array(4 * 64)
  return {
    overlapping(r, visit) {
      const b = input.map.bounds
      nodes.length = 0
      nodes.push(input.map.root)
      rects[0] = b.minX
      rects[1] = b.minY
      rects[2] = b.maxX
      rects[3] = b.maxY
      while (nodes.length > 0) {
        const node = nodes.pop() as PartitionNode
        const k = 4 * nodes.length
        const minX = rects[k] as number
        const minY = rects[k + 1] as number
        const maxX = rects[k + 2] as number
        const maxY = rects[k + 3] as number
        // `intersects`, on the numbers.
        if (!(minX < r.maxX && r.minX < maxX && minY < r.maxY && r.minY < maxY)) continue
        if (node.kind === 'leaf') {
          visit(node.id, minX, minY, maxX, maxY)
          continue
        }
        if (rects.length < k + 8) {
          const bigger = new Float64Array(2 * rects.length)
          bigger.set(rects)
          rects = bigger
        }
        // Low then high, as `splitRect` cuts: the high half is visited first.
        const x = node.axis === 'x'
        nodes.push(node.low, node.high)
        rects[k] = minX
        rects[k + 1] = minY
        rects[k + 2] = x ? node.at : maxX
        rects[k + 3] = x ? maxY : node.at
        rects[k + 4] = x ? node.at : minX
        rects[k + 5] = x ? minY : node.at
        rects[k + 6] = maxX
        rects[k + 7] = maxY
      }
    },
    leaf(id, rect) {
      return { rect, load: loadOf(id), summary: input.loads[id]?.summary ?? [] }
    },
  }
}

function replaceChild(world: WWorld, parent: WSplit | undefined, old: WNode, next: WNode): void {
  next.parent = parent
  if (!parent) world.root = next
  else if (parent.low === old) parent.low = next
  else parent.high = next
}

/** Splits `leaf` at `at` on `axis`; the leaf's id moves to the new inner node. Both halves keep the owner. */
export function splitWork(leaf: WLeaf, axis: Axis, at: number, lowLoad: number, highLoad: number): [WLeaf, WLeaf] {
  const world = leaf.world
  const rect = leaf.rect
  const [lo, hi] = splitRect(rect, axis, at)
  const split = new WSplit(world, leaf.id, undefined, axis, at)
  split.rect = rect
  split.born = true
  const child = (r: Rect, load: number): WLeaf => {
    const c = new WLeaf(world, `p${world.nextId++}`, undefined, leaf.owner, leaf.epoch + 1, false, load)
    c.parent = split
    c.rect = r
    c.born = true
    c.dirty = true
    world.leaves.set(c.id, c)
    world.created.push(c)
    return c
  }
  const low = child(lo, lowLoad)
  const high = child(hi, highLoad)
  split.low = low
  split.high = high
  replaceChild(world, leaf.parent, leaf, split)
  world.leaves.delete(leaf.id)
  world.splits.set(split.id, split)
  split.touch()
  return [low, high]
}

/** Merges the two leaf children of `split` into one leaf with the node's id, owned by `owner`. */
export function mergeWork(split: WSplit, owner: string | null): WLeaf {
  const low = split.low as WLeaf
  const high = split.high as WLeaf
  const world = split.world
  const leaf = new WLeaf(world, split.id, undefined, owner, Math.max(low.epoch, high.epoch) + 1, false, low.load + high.load)
  leaf.rect = split.rect
  leaf.born = true
  replaceChild(world, split.parent, split, leaf)
  world.leaves.delete(low.id)
  world.leaves.delete(high.id)
  world.leaves.set(leaf.id, leaf)
  world.created.push(leaf)
  world.splits.delete(split.id)
  leaf.touch()
  return leaf
}

/** Moves the line of `split` (whose children are both leaves) to `at`; `moved` > 0 went from low to high. */
export function shiftWork(split: WSplit, at: number, moved: number): void {
  const low = split.low as WLeaf
  const high = split.high as WLeaf
  const [lo, hi] = splitRect(split.rect, split.axis, at)
  low.rect = lo
  high.rect = hi
  low.load -= moved
  high.load += moved
  split.at = at
  split.touch()
}

/** Sets a leaf's owner, bumping its epoch. */
export function reassign(leaf: WLeaf, owner: string | null): void {
  leaf.owner = owner
  leaf.epoch += 1
  leaf.touch()
}

/** The plain map; the input object itself when nothing changed, its untouched subtrees otherwise. */
export function toMap(world: WWorld): PartitionMap {
  if (!world.changed) return world.source
  const plain = (node: WNode): PartitionNode => {
    if (!node.dirty && node.src) return node.src
    if (node.kind === 'leaf') {
      const leaf: PartitionLeaf = { kind: 'leaf', id: node.id, owner: node.owner, epoch: node.epoch }
      if (node.pinned) leaf.pinned = true
      return leaf
    }
    return { kind: 'split', id: node.id, axis: node.axis, at: node.at, low: plain(node.low), high: plain(node.high) }
  }
  const src = world.source
  return { worldId: src.worldId, bounds: { ...src.bounds }, version: src.version + 1, nextId: world.nextId, root: plain(world.root) }
}
