/**
 * Balancing by moves: once a worker has been hot (above the trigger band) for `confirmHotS`, and
 * while the hottest worker is above the target band (`balanceTarget`), hand one of its leaves to
 * the coolest worker — the leaf that best evens the two out, provided it lowers their higher
 * utilisation by a clear margin and the receiver stays within its safety bound. A worker above the
 * trigger with nothing movable splits its heaviest leaf and tries again, or, when nothing can be cut,
 * trades a leaf for lighter ones of the coolest worker's. At most K moves per round.
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
      if (!movable(ctx, leaf)) continue
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
    if (split) continue
    // Leaves too heavy to move whole and too narrow to cut: trade one for lighter ones of the cool
    // worker's. Only for a worker that is hot, as for cutting.
    if (uHot > trigger && trade(ctx, hot, cold, even, ceiling, level)) {
      for (const s of [hot, cold]) {
        gave.add(s)
        took.add(s)
      }
      continue
    }
    stuck.add(hot)
  }
}

/** At most this many leaves come back in one trade: each is a handover. */
const MAX_TRADED_BACK = 3
/** A trade hands over at most this many times the load it takes off the hot worker. */
const MAX_TRADED_PER_GAIN = 4

/**
 * A trade between `hot` and `cold`: one of `hot`'s leaves goes to `cold` and lighter leaves of
 * `cold`'s come back, so that together they move about `even`. A crowd packed into leaves at the
 * minimum width leaves the hot worker with pieces each of which would make the receiver the hot
 * one, and no piece to cut; moved one at a time that is an overshoot, traded it is balance. Taken
 * only when it lowers the pair's higher utilisation below `ceiling` and gets them at least half way
 * to `level` (the rule a single move obeys), and when what it hands over is not out of proportion
 * to what it gains (`MAX_TRADED_PER_GAIN`). The trade that leaves the pair most even, then with
 * the fewest handovers, then by leaf id.
 */
function trade(ctx: RoundCtx, hot: WorkerSlot, cold: WorkerSlot, even: number, ceiling: number, level: number): boolean {
  const { cluster } = ctx
  const uHot = cluster.util(hot)
  const canGo = (leaf: WLeaf, to: WorkerSlot) => movable(ctx, leaf) && !wouldReturn(ctx, leaf, to.info.id)
  // Heaviest first: the greedy pick below fills the amount to return with as few leaves as it can.
  const back = [...cold.leaves].filter((l) => canGo(l, hot)).sort((a, b) => b.load - a.load || (a.id < b.id ? -1 : 1))
  if (back.length === 0) return false
  let best: { out: WLeaf; back: WLeaf[]; after: number } | undefined
  for (const out of hot.leaves) {
    if (!(out.load > even) || !canGo(out, cold)) continue
    const want = out.load - even
    const picked: WLeaf[] = []
    let sum = 0
    for (const leaf of back) {
      if (picked.length >= Math.min(MAX_TRADED_BACK, ctx.budget.moves - 1)) break
      if (leaf.load < out.load && Math.abs(sum + leaf.load - want) < Math.abs(sum - want)) {
        picked.push(leaf)
        sum += leaf.load
      }
    }
    if (picked.length === 0 || !cluster.hasRoom(cold, out.load - sum)) continue
    const after = Math.max(cluster.util(hot, sum - out.load), cluster.util(cold, out.load - sum))
    if (after > ceiling || uHot - after < (uHot - level) / 2) continue
    // Every leaf traded is a handover of its entities: not for a gain small beside them.
    if (out.load + sum > MAX_TRADED_PER_GAIN * (uHot - after) * hot.info.capacity) continue
    if (!best || after < best.after || (after === best.after && (picked.length < best.back.length || (picked.length === best.back.length && out.id < best.out.id)))) {
      best = { out, back: picked, after }
    }
  }
  if (!best) return false
  const mean = ctx.mean
  const why = `${hot.info.id} at ${fmt(uHot / mean)}× mean, ${cold.info.id} at ${fmt(cluster.util(cold) / mean)}×: no leaf of ${hot.info.id}'s moves whole or can be cut, so ${best.out.id} (load ${fmt(best.out.load)}) is traded for ${best.back.map((l) => l.id).join(', ')}`
  ctx.budget.moves -= 1 + best.back.length
  give(ctx, best.out, cold.info.id, 'balance', why)
  for (const leaf of best.back) give(ctx, leaf, hot.info.id, 'balance', why)
  return true
}

/** A leaf balancing may move now: not pinned, not cooling down from a move, carrying load. */
function movable(ctx: RoundCtx, leaf: WLeaf): boolean {
  return !leaf.pinned && !cooling(ctx, leaf) && leaf.load > 0
}
