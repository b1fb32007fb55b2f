/**
 * Splitting: a leaf is cut along its longer axis at its load-weighted median (from the load index),
 * never leaving a side narrower than twice the ghost margin. Both halves stay with the owner; the
 * balancer may then move them.
 */
import { extent, longerAxis, span, splitRect } from '../../core/geometry.ts'
import { minWidth } from './config.ts'
import type { RoundCtx } from './context.ts'
import { fmt, isHot } from './context.ts'
import type { WLeaf } from './work-tree.ts'
import { splitWork } from './work-tree.ts'

/** Whether the leaf may be split at all (not pinned, not in a fixed-layout world, not too narrow). */
export function splittable(ctx: RoundCtx, leaf: WLeaf): boolean {
  return !leaf.pinned && !leaf.world.fixedLayout && extent(leaf.rect, longerAxis(leaf.rect)) >= 2 * minWidth(ctx.config)
}

/** Splits `leaf` once at its median; `undefined` when it cannot be split or the budget is spent. */
export function splitAtMedian(ctx: RoundCtx, leaf: WLeaf, why: string): [WLeaf, WLeaf] | undefined {
  if (ctx.budget.splits <= 0 || !splittable(ctx, leaf)) return undefined
  const axis = longerAxis(leaf.rect)
  const [lo, hi] = span(leaf.rect, axis)
  const min = minWidth(ctx.config)
  const index = leaf.world.index
  const { at: median, total } = index.median(leaf.rect, axis)
  const at = Math.min(hi - min, Math.max(lo + min, median))
  if (!(at > lo && at < hi)) return undefined
  const [lowRect] = splitRect(leaf.rect, axis, at)
  // Shares from the index, scaled to the leaf's own load so the two halves add up to it exactly.
  const lowShare = total > 0 ? index.loadIn(lowRect) / total : (at - lo) / (hi - lo)
  const lowLoad = leaf.load * Math.min(1, Math.max(0, lowShare))
  const before = { rect: leaf.rect, load: leaf.load, owner: leaf.owner, epoch: leaf.epoch }
  ctx.cluster.remove(leaf)
  const [low, high] = splitWork(leaf, axis, at, lowLoad, leaf.load - lowLoad)
  ctx.cluster.add(low)
  ctx.cluster.add(high)
  ctx.budget.splits--
  ctx.decisions.push({
    kind: 'split', worldId: leaf.world.worldId, partition: leaf.id,
    reason: `${why}; cut ${axis} at ${fmt(at)}${at !== median ? ' (clamped to the minimum width)' : ' (load median)'}`,
    before,
    after: {
      axis, at, epoch: low.epoch,
      low: { id: low.id, rect: low.rect, load: low.load },
      high: { id: high.id, rect: high.rect, load: high.load },
    },
  })
  return [low, high]
}

/** Splits `leaf` and its pieces until each carries at most `target`, as far as width and budget allow. */
export function splitDown(ctx: RoundCtx, leaf: WLeaf, target: number, why: string): WLeaf[] {
  const done: WLeaf[] = []
  const stack = [leaf]
  while (stack.length > 0) {
    const piece = stack.pop() as WLeaf
    const halves = piece.load > target ? splitAtMedian(ctx, piece, why) : undefined
    if (halves) stack.push(halves[1], halves[0])
    else done.push(piece)
  }
  return done
}

/**
 * Proactive splits: a hot worker's leaves heavier than `splitAbove` × its fair share, and any leaf
 * heavier than `maxLeafFraction` of its owner's capacity, are cut down to size.
 */
export function splitHeavy(ctx: RoundCtx, leaves: readonly WLeaf[]): void {
  const { cluster, config, mean } = ctx
  const wanted: { leaf: WLeaf; target: number; why: string }[] = []
  for (const leaf of leaves) {
    const slot = cluster.ownerOf(leaf)
    // A draining worker's leaves are on their way out: cutting them would only give it more to hand over.
    if (!slot || leaf.pinned || slot.info.draining || slot.info.capacity <= 0) continue
    const cap = slot.info.capacity
    const hot = isHot(ctx, slot)
    const capLimit = config.maxLeafFraction * cap
    const target = hot ? Math.min(capLimit, config.splitAbove * mean * cap) : capLimit
    if (leaf.load > target && target > 0) {
      const why = hot
        ? `owner ${slot.info.id} is hot and load ${fmt(leaf.load)} > ${fmt(target)} (${config.splitAbove} × fair share)`
        : `load ${fmt(leaf.load)} > ${fmt(target)} (${config.maxLeafFraction} × owner capacity)`
      wanted.push({ leaf, target, why })
    }
  }
  wanted.sort((a, b) => b.leaf.load - a.leaf.load || (a.leaf.id < b.leaf.id ? -1 : 1))
  for (const w of wanted) {
    if (ctx.budget.splits <= 0) return
    splitDown(ctx, w.leaf, w.target, w.why)
  }
}
