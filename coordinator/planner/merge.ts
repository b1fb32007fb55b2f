/**
 * Merging cold siblings: two leaf children of one node whose joint load is well below the
 * receiver's fair share become one leaf again. Siblings with different owners merge onto one of
 * them only when that worker stays at or below the mean; such a merge counts as a move. Nothing
 * merges while a worker is hot, nor for `mergeCalmS` after.
 */
import type { RoundCtx } from './context.ts'
import { cooldownRounds } from './config.ts'
import { cooling, fmt, leafPairs, startCooldown } from './context.ts'
import type { WorkerSlot } from './cluster.ts'
import type { WLeaf, WSplit } from './work-tree.ts'
import { mergeWork } from './work-tree.ts'

export function mergeCold(ctx: RoundCtx): void {
  const { cluster, config, mean } = ctx
  // Merging is housekeeping. While a worker is hot, and for `mergeCalmS` after, the cluster is busy
  // answering it or settling, and a merge would only add a handover (both halves' entities move to
  // the merged partition) to the churn; cold pieces merge once the balance has held that long.
  if (ctx.lastHotRound !== undefined && ctx.round - ctx.lastHotRound < cooldownRounds(config, config.mergeCalmS)) return
  for (const node of leafPairs(ctx)) {
    if (ctx.budget.merges <= 0) return
    const low = node.low as WLeaf
    const high = node.high as WLeaf
    if (low.pinned || high.pinned || low.born || high.born || node.born) continue
    if (cooling(ctx, low) || cooling(ctx, high)) continue
    const a = cluster.ownerOf(low)
    const b = cluster.ownerOf(high)
    if (!a || !b || a.info.draining || b.info.draining) continue
    const joint = low.load + high.load
    const receiver = a === b ? a : pickReceiver(ctx, low, a, high, b)
    if (!receiver) continue
    const limit = config.mergeBelow * mean * receiver.info.capacity
    if (!(joint < limit)) continue
    if (a !== b) {
      if (ctx.budget.moves <= 0) continue
      ctx.budget.moves--
    }
    merge(ctx, node, receiver, `joint load ${fmt(joint)} < ${fmt(limit)} (${config.mergeBelow} × fair share)`)
  }
}

/** The owner that takes the merged leaf: the heavier side's, else the other, if it stays at or below the mean. */
function pickReceiver(ctx: RoundCtx, low: WLeaf, a: WorkerSlot, high: WLeaf, b: WorkerSlot): WorkerSlot | undefined {
  const { cluster, mean } = ctx
  const order: [WorkerSlot, number][] = low.load >= high.load ? [[a, high.load], [b, low.load]] : [[b, low.load], [a, high.load]]
  for (const [slot, incoming] of order) {
    if (cluster.util(slot, incoming) <= mean && cluster.hasRoom(slot, incoming)) return slot
  }
  return undefined
}

function merge(ctx: RoundCtx, node: WSplit, receiver: WorkerSlot, why: string): void {
  const low = node.low as WLeaf
  const high = node.high as WLeaf
  const piece = (l: WLeaf) => ({ id: l.id, rect: l.rect, load: l.load, owner: l.owner, epoch: l.epoch })
  const before = { low: piece(low), high: piece(high) }
  ctx.cluster.remove(low)
  ctx.cluster.remove(high)
  const leaf = mergeWork(node, receiver.info.id)
  ctx.cluster.add(leaf)
  startCooldown(ctx, leaf)
  ctx.budget.merges--
  ctx.decisions.push({
    kind: 'merge', worldId: leaf.world.worldId, partition: leaf.id, reason: `${why}; onto ${receiver.info.id}`,
    before, after: { rect: leaf.rect, load: leaf.load, owner: leaf.owner, epoch: leaf.epoch },
  })
}
