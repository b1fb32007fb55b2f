/**
 * One planning round: (maps, loads, workers, carried state, round number) → new maps, decisions,
 * state and the number of workers wanted. Pure: the input is never modified, there is no clock and
 * no randomness, so the same input always gives the same plan.
 *
 * Order of work: smooth the loads; give partitions of dead or missing owners a new home; empty
 * draining workers; merge cold siblings (once no worker has been hot for `mergeCalmS`); split heavy
 * leaves; move leaves from hot to cool workers; shift borders between siblings owned by different
 * workers.
 */
import type { PlannerConfig } from './config.ts'
import { confirmRounds, perRound } from './config.ts'
import { Cluster, utilisation } from './cluster.ts'
import type { RoundCtx } from './context.ts'
import { allLeaves, hotAbove } from './context.ts'
import { balance } from './balance.ts'
import { mergeCold } from './merge.ts'
import { assignOrphans, drain } from './reassign.ts'
import { shiftBorders } from './shift.ts'
import { splitHeavy } from './split.ts'
import type { BorderState, PartitionLoad, PlanInput, PlanResult, PlannerState, WorldInput } from './types.ts'
import type { PartitionNode } from '../../core/partition-map.ts'
import type { WLeaf, WWorld } from './work-tree.ts'
import { release, toMap, toWork } from './work-tree.ts'

export function plan(input: PlanInput, config: PlannerConfig): PlanResult {
  return new Planner().plan(input, config)
}

/**
 * `plan`, for a caller that plans round after round: it keeps each world's scratch copy from one
 * round to the next and takes it up again when the next input map is the one it returned (see
 * `toWork`), instead of building 20,000-odd objects every second. Still pure in what it returns: the
 * same input gives the same plan whatever was kept, and a map that differs gets a fresh copy.
 */
export class Planner {
  /** Scratch copies as the last round left them, by world id. */
  private readonly kept = new Map<string, WWorld>()

  plan(input: PlanInput, config: PlannerConfig): PlanResult {
    const { state } = input
    const up = perRound(config, config.smoothingUp)
    const down = perRound(config, config.smoothingDown)
    // Estimates that this round's reports do not yet replace, per world.
    const estimated = new Map<string, Set<string>>()
    const worlds = input.worlds.map((w) => {
      const prev = state.smoothed[w.map.worldId] ?? {}
      const estimates = state.estimated?.[w.map.worldId]
      const loadOf = (id: string): number => {
        const wasEstimate = estimates?.[id] === true
        const report = w.loads[id]
        if (wasEstimate && !measured(report)) addTo(estimated, w.map.worldId, id)
        return smoothed(up, down, prev[id], report, wasEstimate)
      }
      // Taken out while the round works on it: a round that throws leaves nothing half-changed behind.
      const kept = this.kept.get(w.map.worldId)
      this.kept.delete(w.map.worldId)
      return toWork(w, loadOf, kept)
    })
    this.kept.clear()
    const result = planWorlds(input, config, worlds, estimated)
    for (const w of worlds) {
      release(w)
      this.kept.set(w.worldId, w)
    }
    return result
  }
}

function planWorlds({ state, round, workers, worlds: inputWorlds }: PlanInput, config: PlannerConfig, worlds: WWorld[], estimated: Map<string, Set<string>>): PlanResult {
  const cluster = new Cluster(workers, config)
  const ctx: RoundCtx = {
    config, round, cluster, worlds, decisions: [], mean: 0,
    cooldownUntil: { ...state.cooldownUntil },
    borders: { ...state.borders },
    returns: { ...state.returns },
    lastHotRound: state.lastHotRound,
    hotSince: {},
    confirmedHot: new Set(),
    budget: {
      moves: config.maxMovesPerRound, drainMoves: config.maxDrainMovesPerRound, splits: config.maxSplitsPerRound,
      merges: config.maxMergesPerRound, shifts: config.maxShiftsPerRound,
    },
  }
  let leaves = allLeaves(ctx)
  let total = 0
  for (const leaf of leaves) {
    cluster.add(leaf)
    total += leaf.load
  }
  ctx.mean = cluster.capacity > 0 ? total / cluster.capacity : 0
  // Which workers are hot, and since when: balancing acts only on a streak of `confirmHotS`. A
  // round counts toward the streak only when the worker is above the trigger both on the smoothed
  // loads and on this round's reports alone: one report inflated by a pause (a GC, a preempted
  // tick) lifts the smoothed load past the trigger for the round after it too, and a streak counted
  // on the smoothed figure alone let that single report move partitions.
  if (ctx.mean > 0) {
    const needed = confirmRounds(config)
    // Summed only when some worker is above the trigger on the smoothed loads (most rounds none is).
    let raw: { byWorker: Map<string, number>; trigger: number } | undefined
    for (const slot of cluster.eligible) {
      if (!(cluster.util(slot) > hotAbove(ctx))) continue
      raw ??= reportedLoads(cluster, worlds, inputWorlds, leaves)
      if (!(utilisation(raw.byWorker.get(slot.info.id) ?? 0, slot.info.capacity) > raw.trigger)) continue
      const since = state.hotSince?.[slot.info.id] ?? round
      ctx.hotSince[slot.info.id] = since
      if (round - since + 1 >= needed) ctx.confirmedHot.add(slot.info.id)
      ctx.lastHotRound = round
    }
  }

  assignOrphans(ctx, leaves)
  drain(ctx, leaves)
  if (cluster.eligible.length > 0 && ctx.mean > 0) {
    mergeCold(ctx)
    leaves = allLeaves(ctx)
    splitHeavy(ctx, leaves)
    balance(ctx)
    shiftBorders(ctx)
  }

  const workerLoads: Record<string, number> = {}
  for (const [id, slot] of cluster.slots) workerLoads[id] = slot.load
  return {
    maps: worlds.map(toMap),
    decisions: ctx.decisions,
    state: nextState(ctx, worlds, estimated),
    workersWanted: workersWanted(config, cluster, total),
    workerLoads,
  }
}

/**
 * Each worker's load as this round's reports alone say (a leaf without a full report, or with only a
 * partial one, counts at its smoothed load), and the trigger on those figures (the mean counted as
 * the round's is: every leaf, over the eligible capacity).
 */
function reportedLoads(cluster: Cluster, worlds: readonly WWorld[], inputs: readonly WorldInput[], leaves: readonly WLeaf[]): { byWorker: Map<string, number>; trigger: number } {
  const byWorld = new Map<WWorld, WorldInput['loads']>()
  worlds.forEach((w, i) => byWorld.set(w, inputs[i]?.loads ?? {}))
  const byWorker = new Map<string, number>()
  let total = 0
  for (const leaf of leaves) {
    const r = byWorld.get(leaf.world)?.[leaf.id]
    const load = measured(r) ? (figure(r) as number) : leaf.load
    total += load
    const slot = cluster.ownerOf(leaf)
    if (slot) byWorker.set(slot.info.id, (byWorker.get(slot.info.id) ?? 0) + load)
  }
  const trigger = Math.max((total / cluster.capacity) * cluster.config.balanceTrigger, cluster.config.idleBelow)
  return { byWorker, trigger }
}

/**
 * Exponential smoothing that rises faster than it falls; a missing or bad report keeps the old
 * value. A partial report (a lower bound) only raises it: to the report, as a crowd filling the
 * partition may have grown past the estimate made when it was cut. When the old value is an
 * estimate (`estimate`: the leaf was split, merged or moved and not measured since), the first
 * whole report replaces it: smoothing weighs a measurement against earlier measurements, and an
 * estimate made when the leaf was cut is not one (a crowd still packing in has grown past it, and
 * smoothing towards the truth would hide that for another second).
 */
function smoothed(up: number, down: number, prev: number | undefined, load: PartitionLoad | undefined, estimate = false): number {
  const fresh = figure(load)
  if (fresh === undefined) return prev ?? 0
  if (prev === undefined) return fresh
  if (load?.partial === true) return Math.max(prev, fresh)
  if (estimate) return fresh
  const alpha = fresh > prev ? up : down
  return prev + alpha * (fresh - prev)
}

/** The report's tick cost when it is a usable figure (finite, not negative). */
function figure(load: PartitionLoad | undefined): number | undefined {
  const report = load?.tickCostMs
  return report !== undefined && Number.isFinite(report) && report >= 0 ? report : undefined
}

/** Whether `load` is a whole report: a usable figure measured over a full window at the leaf's epoch. */
function measured(load: PartitionLoad | undefined): boolean {
  return load !== undefined && load.partial !== true && figure(load) !== undefined
}

/**
 * State for the next round, holding only entries for nodes that still exist and cooldowns still
 * running. `estimated`: leaves whose load was an estimate before the round and got no whole report
 * in it; those this round split, merged or moved are estimates now as well.
 */
function nextState(ctx: RoundCtx, worlds: readonly WWorld[], estimated: Map<string, Set<string>>): PlannerState {
  const smoothedOut: Record<string, Record<string, number>> = {}
  const cooldownUntil: Record<string, number> = {}
  const borders: Record<string, BorderState> = {}
  const returns: PlannerState['returns'] = {}
  const byId = new Map(worlds.map((w) => [w.worldId, w]))
  // Entries are `${worldId}/${nodeId}`; node ids hold no slash, world ids may.
  const find = (k: string): [WWorld | undefined, string] => {
    const cut = k.lastIndexOf('/')
    return [byId.get(k.slice(0, cut)), k.slice(cut + 1)]
  }
  const isLeaf = (k: string): boolean => {
    const [w, id] = find(k)
    return w !== undefined && w.leaves.has(id)
  }
  const isSplit = (k: string): boolean => {
    const [w, id] = find(k)
    return w !== undefined && w.splits.has(id)
  }
  for (const world of worlds) smoothedOut[world.worldId] = leafLoads(world)
  // Cooldowns, returns and borders are few: filter them rather than key every node.
  for (const [k, until] of Object.entries(ctx.cooldownUntil)) if (until > ctx.round + 1 && isLeaf(k)) cooldownUntil[k] = until
  for (const [k, back] of Object.entries(ctx.returns)) if (back.until > ctx.round + 1 && isLeaf(k)) returns[k] = back
  for (const [k, b] of Object.entries(ctx.borders)) if (isSplit(k)) borders[k] = b
  const next: PlannerState = { round: ctx.round, smoothed: smoothedOut, cooldownUntil, borders, returns }
  if (ctx.lastHotRound !== undefined) next.lastHotRound = ctx.lastHotRound
  if (Object.keys(ctx.hotSince).length > 0) next.hotSince = ctx.hotSince
  // Made or moved by this round: the decisions name them (a split names its halves).
  for (const d of ctx.decisions) {
    if (d.kind === 'split') {
      addTo(estimated, d.worldId, d.after.low.id)
      addTo(estimated, d.worldId, d.after.high.id)
    } else if (d.kind === 'move' || d.kind === 'assign' || d.kind === 'merge') addTo(estimated, d.worldId, d.partition)
  }
  let estimates: Record<string, Record<string, true>> | undefined
  for (const [worldId, ids] of estimated) {
    const world = byId.get(worldId)
    for (const id of ids) {
      // Only what is still a leaf (a half may have been cut again or merged the same round).
      if (!world?.leaves.has(id)) continue
      ;((estimates ??= {})[worldId] ??= {})[id] = true
    }
  }
  if (estimates) next.estimated = estimates
  return next
}

function addTo(sets: Map<string, Set<string>>, worldId: string, id: string): void {
  let set = sets.get(worldId)
  if (!set) sets.set(worldId, (set = new Set()))
  set.add(id)
}

/**
 * Smoothed load per current leaf: the input's leaves that are still leaves, in tree order, then the
 * leaves made this round in the order they were made (the order a map of leaves would keep, whether
 * or not the scratch copy was kept from the last round).
 */
function leafLoads(world: WWorld): Record<string, number> {
  const loads: Record<string, number> = {}
  const stack: PartitionNode[] = [world.source.root]
  while (stack.length > 0) {
    const node = stack.pop() as PartitionNode
    if (node.kind === 'split') stack.push(node.high, node.low)
    else {
      const leaf = world.leaves.get(node.id)
      if (leaf && !leaf.born) loads[node.id] = leaf.load
    }
  }
  for (const leaf of world.created) if (world.leaves.get(leaf.id) === leaf) loads[leaf.id] = leaf.load
  return loads
}

/**
 * Workers to add (+) when the load passes the eligible workers' safety bound, or to remove (−)
 * when it is below `scaleDownBelow` of their capacity; sized for `targetUtilization`.
 */
export function workersWanted(config: PlannerConfig, cluster: Cluster, total: number): number {
  const n = cluster.eligible.length
  const meanCap = n > 0 ? cluster.capacity / n : 0
  if (n === 0) return total > 0 ? Math.max(1, config.minWorkers) : config.minWorkers
  if (meanCap <= 0) return 0
  const needed = Math.max(config.minWorkers, Math.ceil(total / (config.targetUtilization * meanCap)))
  if (total > config.safetyFraction * cluster.capacity) return Math.max(1, needed - n)
  if (total < config.scaleDownBelow * cluster.capacity && needed < n) return needed - n
  return 0
}
