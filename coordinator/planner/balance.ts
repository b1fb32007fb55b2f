/**
 * Balancing by moves: while the hottest worker is above the trigger band, hand one of its leaves to
 * the coolest worker — the leaf that best evens the two out, provided it lowers their higher
 * utilisation by a clear margin and the receiver stays within its safety bound. A hot worker with
 * nothing movable splits its heaviest leaf and tries again. At most K moves per round.
 */
import type { WorkerSlot } from './cluster.ts'
import type { RoundCtx } from './context.ts'
import { cooling, fmt, hotAbove, wouldReturn } from './context.ts'
import { give } from './reassign.ts'
import { splitAtMedian } from './split.ts'
import type { WLeaf } from './work-tree.ts'

export function balance(ctx: RoundCtx): void {
  const { cluster, config, mean } = ctx
  const trigger = hotAbove(ctx)
  const stuck = new Set<WorkerSlot>()
  // Each pass either moves, splits (bounded by its budget) or retires a worker: the loop ends.
  for (;;) {
    if (ctx.budget.moves <= 0) return
    // Only a worker hot for `confirmHotS` sheds load: a noisy report alone moves nothing.
    const hot = cluster.hottest((s) => !stuck.has(s) && ctx.confirmedHot.has(s.info.id))
    if (!hot || !(cluster.util(hot) > trigger)) return
    const cold = cluster.coolest(0, (s) => s !== hot)
    if (!cold) return
    const uHot = cluster.util(hot)
    const ceiling = uHot - config.minGain * mean
    let best: WLeaf | undefined
    let bestAfter = Number.POSITIVE_INFINITY
    let heaviest: WLeaf | undefined
    for (const leaf of hot.leaves) {
      if (leaf.pinned || cooling(ctx, leaf) || !(leaf.load > 0)) continue
      if (!heaviest || leaf.load > heaviest.load || (leaf.load === heaviest.load && leaf.id < heaviest.id)) heaviest = leaf
      if (!cluster.hasRoom(cold, leaf.load) || wouldReturn(ctx, leaf, cold.info.id)) continue
      const after = Math.max(cluster.util(hot, -leaf.load), cluster.util(cold, leaf.load))
      if (after > ceiling) continue
      if (after < bestAfter || (after === bestAfter && best && leaf.id < best.id)) {
        best = leaf
        bestAfter = after
      }
    }
    if (best) {
      ctx.budget.moves--
      const why = `${hot.info.id} at ${fmt(uHot / mean)}× mean → ${cold.info.id} at ${fmt(cluster.util(cold) / mean)}× (load ${fmt(best.load)})`
      give(ctx, best, cold.info.id, 'balance', why)
      continue
    }
    // Splitting helps only when the leaves are too coarse: the heaviest exceeds what would even the pair out.
    const even = (hot.load * cold.info.capacity - cold.load * hot.info.capacity) / (hot.info.capacity + cold.info.capacity)
    const tooCoarse = heaviest !== undefined && heaviest.load > even && cluster.hasRoom(cold, even / 2)
    const split = heaviest && tooCoarse ? splitAtMedian(ctx, heaviest, `${hot.info.id} is hot and no leaf moves without overshooting`) : undefined
    if (!split) stuck.add(hot)
  }
}
