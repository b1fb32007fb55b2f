/** The planner's input, output and carried state: plain JSON-serialisable data. */
import type { Axis, Rect } from '../../core/geometry.ts'
import type { PartitionMap } from '../../core/partition-map.ts'

export interface WorkerInfo {
  id: string
  /** Load budget, in the tick-cost unit (ms of work per second). */
  capacity: number
  /** Holds its lease; a worker that is not live owns nothing after the next plan. */
  live: boolean
  /** Being emptied: gets nothing new, loses what it has. */
  draining: boolean
  labels: Record<string, string>
  /** Region, for room placement (a `region` label works too). */
  region?: string
}

/** One weighted rectangle of a partition's load summary: `weight` is relative within the summary. */
export interface LoadRect extends Rect {
  weight: number
}

/** What a worker reports about one partition, every report interval. */
export interface PartitionLoad {
  /** Milliseconds of simulation per second over the ticks since the worker's last report (the planner smooths). */
  tickCostMs: number
  entities: number
  clients: number
  /** Up to ~64 rectangles saying where inside the partition the cost lies; empty means spread evenly. */
  summary: LoadRect[]
  /**
   * Measured over part of a window only (a partition still being filled by handoffs): a lower
   * bound, so the planner keeps the larger of it and its own estimate. Default false.
   */
  partial?: boolean
}

export interface WorldInput {
  map: PartitionMap
  /** Latest report per leaf id; a leaf without one keeps its smoothed load. */
  loads: Record<string, PartitionLoad>
  /**
   * The tree must keep its shape: no split, merge or border shift, only owner changes. Rooms are
   * worlds of exactly one partition. Default false.
   */
  fixedLayout?: boolean
}

/** Per-border memory for BigWorld-style shifting. */
export interface BorderState {
  /** Direction of the last shift: -1 toward lower coordinates, +1 toward higher. */
  dir: -1 | 1
  /** Current step, as a fraction of the pair's extent on the axis. */
  step: number
  /** Round of the last shift. */
  round: number
}

/** Carried from one round to the next; keys other than `smoothed`'s are `${worldId}/${nodeId}`. */
export interface PlannerState {
  /** Last round planned (-1 before the first). */
  round: number
  /** Smoothed load per world, per leaf. */
  smoothed: Record<string, Record<string, number>>
  /** First round in which a leaf may move or merge again. */
  cooldownUntil: Record<string, number>
  /** Per inner node whose line has been shifted. */
  borders: Record<string, BorderState>
  /** Per leaf moved for balance: the worker it left, which may not get it back before round `until`. */
  returns: Record<string, { owner: string; until: number }>
  /** Last round in which a worker was hot (above the trigger band); absent if none was yet. */
  lastHotRound?: number
  /** Per worker above the trigger band: the first round of its current streak (see `confirmHotS`). */
  hotSince?: Record<string, number>
  /**
   * Leaves whose smoothed load is still the planner's own estimate (made when it split, merged or
   * moved them), not yet measured over a whole report at their epoch: the first such report
   * replaces the estimate instead of being smoothed into it. Per world, per leaf, as `smoothed`.
   */
  estimated?: Record<string, Record<string, true>>
}

export interface PlanInput {
  /** Round number (monotonic, one per planning pass): the planner's only clock. */
  round: number
  worlds: WorldInput[]
  workers: WorkerInfo[]
  state: PlannerState
}

/** Why an owner changed: a dead or missing owner, a draining owner, or load balance. */
export type MoveCause = 'orphan' | 'drain' | 'balance'

export interface OwnerDecision {
  kind: 'assign' | 'move'
  worldId: string
  partition: string
  cause: MoveCause
  reason: string
  load: number
  before: { owner: string | null; epoch: number }
  /** `null` only when no live worker exists at all. */
  after: { owner: string | null; epoch: number }
}

export interface PieceSummary {
  id: string
  rect: Rect
  load: number
}

export interface SplitDecision {
  kind: 'split'
  worldId: string
  partition: string
  reason: string
  before: { rect: Rect; load: number; owner: string | null; epoch: number }
  after: { axis: Axis; at: number; low: PieceSummary; high: PieceSummary; epoch: number }
}

export interface MergeDecision {
  kind: 'merge'
  worldId: string
  partition: string
  reason: string
  before: { low: PieceSummary & { owner: string | null; epoch: number }; high: PieceSummary & { owner: string | null; epoch: number } }
  after: { rect: Rect; load: number; owner: string | null; epoch: number }
}

export interface ShiftDecision {
  kind: 'shift'
  worldId: string
  /** The inner node whose line moved. */
  partition: string
  reason: string
  axis: Axis
  /** Leaf that shrank and leaf that grew. */
  from: string
  to: string
  /** Load moved across the line (estimated from the summaries). */
  load: number
  before: { at: number; step: number | null }
  after: { at: number; step: number; dir: -1 | 1 }
}

export type Decision = OwnerDecision | SplitDecision | MergeDecision | ShiftDecision

export interface PlanResult {
  /** One map per input world, same order; unchanged maps are returned as they came (same version). */
  maps: PartitionMap[]
  decisions: Decision[]
  state: PlannerState
  /** +N: add N workers; -N: could do with N fewer; 0: fine. */
  workersWanted: number
  /** Estimated load per worker after the plan (live workers only). */
  workerLoads: Record<string, number>
}

export function initialPlannerState(): PlannerState {
  return { round: -1, smoothed: {}, cooldownUntil: {}, borders: {}, returns: {} }
}
