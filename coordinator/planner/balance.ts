/**
 * Balancing by moves: once a worker has been hot (above the trigger band) for `confirmHotS`, and
 * while the hottest worker is above the target band (`balanceTarget`), hand one of its leaves to
 * the coolest worker — the leaf that best evens the two out, provided it lowers their higher
 * utilisation by a clear margin and the receiver stays within its safety bound. A worker above the
 * trigger with nothing movable splits its heaviest leaf and tries again. At most K moves per round.
 */
import type { WorkerSlot } from './cluster.ts'
import type { RoundCtx } from './context.ts'
import { cooling, fmt, hotAbove, wouldReturn } from './context.ts'
import { give } from './reassign.ts'
import { splitAtMedian, splittable } from './split.ts'
import type { WLeaf } from './work-tree.ts'

export function balance(ctx: RoundCtx): void {
  const { cluster, config, mean } = ctx
  const trigger = hotAbove(ctx)
  // Only a worker hot for `confirmHotS` starts a rebalance: a noisy report alone moves nothing.
  if (!cluster.eligible.some((s) => ctx.confirmedHot.has(s.info.id) && cluster.util(s) > trigger)) return
  // Once started, the round evens the workers out to the target band, not just under the trigger.
  const target = Math.max(mean * Math.min(config.balanceTarget, config.balanceTrigger), config.idleBelow)
  const stuck = new Set<WorkerSlot>()
  // A worker either gives or takes in one round, never both: with the target below the trigger, a
  // receiver could otherwise end up the hottest and pass a leaf of its own on (or back), a handover
  // for nothing.
  const gave = new Set<WorkerSlot>()
  const took = new Set<WorkerSlot>()
  // Each pass either moves, splits (bounded by its budget) or retires a worker: the loop ends.
  for (;;) {
    if (ctx.budget.moves <= 0) return
    const hot = cluster.hottest((s) => !stuck.has(s) && !took.has(s))
    if (!hot || !(cluster.util(hot) > target)) return
    const cold = cluster.coolest(0, (s) => s !== hot && !gave.has(s))
    if (!cold) return
    const uHot = cluster.util(hot)
    const ceiling = uHot - config.minGain * mean
    // Load that would even the pair out exactly, and the utilisation both would then have.
    const even = (hot.load * cold.info.capacity - cold.load * hot.info.capacity) / (hot.info.capacity + cold.info.capacity)
    const level = cluster.util(hot, -even)
    let best: WLeaf | undefined
    let bestAfter = Number.POSITIVE_INFINITY
    let heaviest: WLeaf | undefined
    // The leaf whose half comes closest to `even`: what to cut when whole leaves fit badly.
    let toCut: WLeaf | undefined
    for (const leaf of hot.leaves) {
      if (leaf.pinned || cooling(ctx, leaf) || !(leaf.load > 0)) continue
      if (!heaviest || leaf.load > heaviest.load || (leaf.load === heaviest.load && leaf.id < heaviest.id)) heaviest = leaf
      if (wouldReturn(ctx, leaf, cold.info.id)) continue
      if (leaf.load > even && splittable(ctx, leaf) && (!toCut || Math.abs(leaf.load / 2 - even) < Math.abs(toCut.load / 2 - even))) toCut = leaf
      if (!cluster.hasRoom(cold, leaf.load)) continue
      const after = Math.max(cluster.util(hot, -leaf.load), cluster.util(cold, leaf.load))
      if (after > ceiling) continue
      if (after < bestAfter || (after === bestAfter && best && leaf.id < best.id)) {
        best = leaf
        bestAfter = after
      }
    }
    // A whole leaf that overshoots so far that the pair gets less than half way to even is a
    // handover that leaves the next round as much to do (the receiver is now the hot one): cut a
    // leaf whose half fits better when the worker is hot, and never move the overshooting one. (A
    // light leaf that falls short is progress: the next pass moves another.)
    if (best && best.load > even && uHot - bestAfter < (uHot - level) / 2) {
      if (uHot > trigger && toCut && cluster.hasRoom(cold, toCut.load / 2) && splitAtMedian(ctx, toCut, `${hot.info.id} is hot and no whole leaf evens it out with ${cold.info.id}`)) continue
      best = undefined
    }
    if (best) {
      ctx.budget.moves--
      const why = `${hot.info.id} at ${fmt(uHot / mean)}× mean → ${cold.info.id} at ${fmt(cluster.util(cold) / mean)}× (load ${fmt(best.load)})`
      give(ctx, best, cold.info.id, 'balance', why)
      gave.add(hot)
      took.add(cold)
      continue
    }
    // Splitting helps only when the leaves are too coarse: the heaviest exceeds what would even the
    // pair out. Below the trigger the round only moves what fits: cutting pieces to reach the
    // target band would cost handovers for a worker no one would call hot.
    const tooCoarse = heaviest !== undefined && heaviest.load > even && cluster.hasRoom(cold, even / 2) && uHot > trigger
    const split = heaviest && tooCoarse ? splitAtMedian(ctx, heaviest, `${hot.info.id} is hot and no leaf moves without overshooting`) : undefined
    if (!split) stuck.add(hot)
  }
}
