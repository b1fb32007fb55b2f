/**
 * First duties of a round, before any optimisation: partitions whose owner is gone get a new owner,
 * and draining workers hand theirs over.
 */
import type { WorkerSlot } from './cluster.ts'
import { cooldownRounds } from './config.ts'
import type { RoundCtx } from './context.ts'
import { fmt, key, startCooldown, wouldReturn } from './context.ts'
import type { MoveCause } from './types.ts'
import type { WLeaf } from './work-tree.ts'
import { reassign } from './work-tree.ts'

/** Gives every leaf without a live owner the coolest eligible worker (one with room if any). */
export function assignOrphans(ctx: RoundCtx, leaves: readonly WLeaf[]): void {
  const { cluster } = ctx
  const orphans = leaves.filter((l) => !cluster.ownerOf(l))
  // Heaviest first: they are the hardest to fit once the coolest workers fill up.
  orphans.sort((a, b) => b.load - a.load || (a.id < b.id ? -1 : 1))
  for (const leaf of orphans) {
    const why = leaf.owner === null ? 'unassigned' : `owner ${leaf.owner} is not live`
    // Not back to a worker it left for balance moments ago while another can take it (that would undo the balance).
    const target = cluster.home(leaf.load, (s) => !wouldReturn(ctx, leaf, s.info.id)) ?? fallback(ctx)
    if (!target) {
      if (leaf.owner !== null) {
        const before = { owner: leaf.owner, epoch: leaf.epoch }
        reassign(leaf, null)
        ctx.decisions.push({
          kind: 'assign', worldId: leaf.world.worldId, partition: leaf.id, cause: 'orphan', load: leaf.load,
          reason: `${why}; no live worker to take it`, before, after: { owner: null, epoch: leaf.epoch },
        })
      }
      continue
    }
    give(ctx, leaf, target.info.id, 'orphan', `${why}: to ${target.info.id} (load ${fmt(leaf.load)})`)
  }
}

/** Moves leaves off draining workers, at most `maxDrainMovesPerRound` per round; pins do not hold. */
export function drain(ctx: RoundCtx, leaves: readonly WLeaf[]): void {
  const { cluster } = ctx
  for (const leaf of leaves) {
    const slot = cluster.ownerOf(leaf)
    if (!slot || !slot.info.draining) continue
    if (ctx.budget.drainMoves <= 0) return
    const target = cluster.home(leaf.load)
    if (!target) return
    ctx.budget.drainMoves--
    give(ctx, leaf, target.info.id, 'drain', `${slot.info.id} is draining: to ${target.info.id} (load ${fmt(leaf.load)})`)
  }
}

/** The one place an owner changes: bookkeeping, epoch, decision, cooldown. */
export function give(ctx: RoundCtx, leaf: WLeaf, owner: string, cause: MoveCause, reason: string): void {
  const before = { owner: leaf.owner, epoch: leaf.epoch }
  const hadOwner = ctx.cluster.ownerOf(leaf) !== undefined
  ctx.cluster.remove(leaf)
  reassign(leaf, owner)
  ctx.cluster.add(leaf)
  startCooldown(ctx, leaf)
  if (cause === 'balance' && before.owner !== null) {
    ctx.returns[key(leaf.world, leaf.id)] = { owner: before.owner, until: ctx.round + cooldownRounds(ctx.config, ctx.config.returnCooldownS) }
  }
  ctx.decisions.push({
    kind: hadOwner ? 'move' : 'assign', worldId: leaf.world.worldId, partition: leaf.id, cause, reason, load: leaf.load,
    before, after: { owner, epoch: leaf.epoch },
  })
}

/** With no eligible worker, a live draining one is still better than a dead owner. */
function fallback(ctx: RoundCtx): WorkerSlot | undefined {
  let best: WorkerSlot | undefined
  for (const s of ctx.cluster.slots.values()) if (!best || s.load < best.load) best = s
  return best
}
