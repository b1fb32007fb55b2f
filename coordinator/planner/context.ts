/** What every phase of a planning round shares: config, clock, cluster, worlds, budgets, the log. */
import type { PlannerConfig } from './config.ts'
import { cooldownRounds } from './config.ts'
import type { Cluster, WorkerSlot } from './cluster.ts'
import type { BorderState, Decision } from './types.ts'
import type { WLeaf, WNode, WSplit, WWorld } from './work-tree.ts'

export interface RoundCtx {
  config: PlannerConfig
  round: number
  cluster: Cluster
  worlds: WWorld[]
  decisions: Decision[]
  /** Mean utilisation of the eligible workers: total load over their capacity. */
  mean: number
  /** Copies of the carried state, updated as the round decides. */
  cooldownUntil: Record<string, number>
  borders: Record<string, BorderState>
  returns: Record<string, { owner: string; until: number }>
  /** Last round in which a worker was hot, this one included. */
  lastHotRound: number | undefined
  /** Per worker above the trigger when the round began: the first round of its streak. */
  hotSince: Record<string, number>
  /** Workers above the trigger for `confirmRounds` rounds in a row: the ones balancing acts on. */
  confirmedHot: Set<string>
  budget: { moves: number; drainMoves: number; splits: number; merges: number; shifts: number }
}

export function key(world: WWorld, id: string): string {
  return `${world.worldId}/${id}`
}

/** Whether the leaf is still cooling down from a move or merge. */
export function cooling(ctx: RoundCtx, leaf: WLeaf): boolean {
  return (ctx.cooldownUntil[key(leaf.world, leaf.id)] ?? Number.NEGATIVE_INFINITY) > ctx.round
}

export function startCooldown(ctx: RoundCtx, leaf: WLeaf): void {
  ctx.cooldownUntil[key(leaf.world, leaf.id)] = ctx.round + cooldownRounds(ctx.config, ctx.config.partitionCooldownS)
}

/** Whether moving `leaf` to `owner` would hand it back to the worker it left too recently. */
export function wouldReturn(ctx: RoundCtx, leaf: WLeaf, owner: string): boolean {
  const r = ctx.returns[key(leaf.world, leaf.id)]
  return r !== undefined && r.owner === owner && r.until > ctx.round
}

/** Every leaf of every world, in world then tree order (low before high). */
export function allLeaves(ctx: RoundCtx): WLeaf[] {
  let count = 0
  for (const w of ctx.worlds) count += w.leaves.size
  // Sized once rather than grown push by push (a round lists its 10,000-odd leaves twice); past
  // V8's limit for a preallocated fast array, growing is the better evil.
  const out: WLeaf[] = count <= MAX_PREALLOCATED ? new Array<WLeaf>(count) : []
  let i = 0
  for (const w of ctx.worlds) {
    walk(w.root, (n) => {
      if (n.kind === 'leaf') out[i++] = n
    })
  }
  return out
}

/** `new Array(n)` beyond this many elements (V8 says 100,000) makes a slow dictionary-backed array. */
const MAX_PREALLOCATED = 50_000

/** Inner nodes whose two children are both leaves: where merges and shifts happen (never in fixed-layout worlds). */
export function leafPairs(ctx: RoundCtx): WSplit[] {
  const out: WSplit[] = []
  for (const w of ctx.worlds) {
    if (w.fixedLayout) continue
    walk(w.root, (n) => {
      if (n.kind === 'split' && n.low.kind === 'leaf' && n.high.kind === 'leaf') out.push(n)
    })
  }
  return out
}

function walk(root: WNode, visit: (n: WNode) => void): void {
  const stack: WNode[] = [root]
  while (stack.length > 0) {
    const n = stack.pop() as WNode
    visit(n)
    if (n.kind === 'split') stack.push(n.high, n.low)
  }
}

/**
 * Utilisation above which a worker counts as hot: the balance band over the mean, but never below
 * `idleBelow`, so a cluster with headroom everywhere is left alone.
 */
export function hotAbove(ctx: RoundCtx): number {
  return Math.max(ctx.mean * ctx.config.balanceTrigger, ctx.config.idleBelow)
}

/** Whether `slot` is hot: above the trigger now, and for `confirmHotS` before (see `confirmRounds`). */
export function isHot(ctx: RoundCtx, slot: WorkerSlot): boolean {
  return ctx.cluster.util(slot) > hotAbove(ctx) && ctx.confirmedHot.has(slot.info.id)
}

/** Rounds a load for reason strings. */
export function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(Math.abs(x) >= 100 ? 0 : 2)
}
