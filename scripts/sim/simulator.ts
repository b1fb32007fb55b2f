/**
 * A deterministic cluster simulator for the planner. Synthetic entities wander a square world; at
 * `hotspotAt` a share of them rush to a hotspot and crowd there; at `disperseAt` they scatter again.
 * Every simulated second it turns the entities into load reports, runs the planner, applies the
 * plan (an entity belongs to whoever owns the partition it stands in) and checks the invariants.
 *
 * Figures: convergence (the longest stretch after the hotspot starts during which the busiest
 * worker carries more than `bound` × the mean), moves, and flips (a border reversing, or a
 * partition returning to its previous owner, within `flipWindowS`).
 */
import type { Point } from '../../core/geometry.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { leafAt, leaves } from '../../core/partition-map.ts'
import type { PlannerConfigInput } from '../../coordinator/planner/config.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { Planner } from '../../coordinator/planner/plan.ts'
import type { Decision, PlannerState, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { epochProblems, ownerProblems, tilingProblems } from './invariants.ts'
import { balancedMap } from './maps.ts'
import { reportsFromPoints } from './reports.ts'
import type { Rng } from './rng.ts'
import { mulberry32 } from './rng.ts'

export interface SimOptions {
  /** Default 1. */
  seed?: number
  /** Default 16. */
  workers?: number
  /** Default 20,000. */
  entities?: number
  /** Side of the square world. Default 4096. */
  worldSize?: number
  /** Simulated seconds (one planning round each). Default 180. */
  seconds?: number
  /** When the crowd starts for the hotspot. Default 30. */
  hotspotAt?: number
  /** When it scatters. Default 110. */
  disperseAt?: number
  /** Share of entities that join the crowd. Default 0.5. */
  hotspotFraction?: number
  /** Radius of the crowd. Default 250. */
  hotspotRadius?: number
  /** Wandering speed, units/s. Default 8. */
  walkSpeed?: number
  /** Speed toward the hotspot and away from it, units/s. Default 150. */
  rushSpeed?: number
  /** Mean worker utilisation the capacities are sized for. Default 0.5. */
  utilization?: number
  /** Max/mean the convergence figure measures against. Default 1.25. */
  bound?: number
  /** A border reversal or a return to the previous owner within this many seconds is a flip. Default 10. */
  flipWindowS?: number
  /** When the first worker dies (its lease is gone); default never. */
  failAt?: number
  /** When the second worker starts draining; default never. */
  drainAt?: number
  /** Planner options. */
  planner?: PlannerConfigInput
}

export interface SimReport {
  seed: number
  rounds: number
  /** Longest stretch (s) after the hotspot starts with max/mean above the bound. */
  convergeS: number
  /** Worst max/mean seen after the hotspot started, and at the end. */
  worstImbalance: number
  finalImbalance: number
  moves: number
  maxMovesInRound: number
  splits: number
  merges: number
  shifts: number
  flips: number
  finalPartitions: number
  /** Rounds after `failAt` / `drainAt` until the dead or draining worker owned nothing (-1: never). */
  failoverRounds: number
  drainRounds: number
  /** Invariant violations (empty when all held). */
  problems: string[]
  /** Max/mean per second. */
  imbalance: number[]
}

type Mode = 'wander' | 'rush' | 'settled' | 'scatter'

interface Entity extends Point {
  vx: number
  vy: number
  mode: Mode
  tx: number
  ty: number
}

const COST_PER_ENTITY = 0.04

export function runSimulation(options: SimOptions = {}): SimReport {
  const o = {
    seed: 1, workers: 16, entities: 20_000, worldSize: 4096, seconds: 180, hotspotAt: 30, disperseAt: 110,
    hotspotFraction: 0.5, hotspotRadius: 250, walkSpeed: 8, rushSpeed: 150, utilization: 0.5, bound: 1.25, flipWindowS: 10,
    ...options,
  }
  const config = plannerConfig(o.planner ?? {})
  const rng = mulberry32(o.seed)
  const size = o.worldSize
  const bounds = { minX: 0, minY: 0, maxX: size, maxY: size }
  const capacity = (o.entities * COST_PER_ENTITY) / (o.workers * o.utilization)
  const workers: WorkerInfo[] = Array.from({ length: o.workers }, (_, i) => ({
    id: `w${String(i).padStart(2, '0')}`, capacity, live: true, draining: false, labels: {},
  }))
  const entities = Array.from({ length: o.entities }, () => spawn(rng, size, o.walkSpeed))
  const hot = { x: rng.range(size * 0.2, size * 0.8), y: rng.range(size * 0.2, size * 0.8) }

  let map: PartitionMap = balancedMap('sim', bounds, o.workers, (i) => workers[i % workers.length]?.id ?? null)
  let state: PlannerState = initialPlannerState()
  // One planner for the whole run, as the coordinator keeps one: it reuses its scratch copy of the map.
  const planner = new Planner()
  const report: SimReport = {
    seed: o.seed, rounds: 0, convergeS: 0, worstImbalance: 0, finalImbalance: 0, moves: 0, maxMovesInRound: 0,
    splits: 0, merges: 0, shifts: 0, flips: 0, finalPartitions: 0, failoverRounds: -1, drainRounds: -1, problems: [], imbalance: [],
  }
  const lastShift = new Map<string, { dir: number; t: number }>()
  const lastOwner = new Map<string, { owner: string | null; t: number }>()
  let excursion = 0

  for (let t = 0; t < o.seconds; t++) {
    if (t === o.hotspotAt) startRush(rng, entities, hot, o.hotspotFraction, o.hotspotRadius)
    if (t === o.disperseAt) scatter(rng, entities, size)
    if (t === o.failAt && workers[0]) workers[0] = { ...workers[0], live: false }
    if (t === o.drainAt && workers[1]) workers[1] = { ...workers[1], draining: true }
    for (const e of entities) step(rng, e, size, o.walkSpeed, o.rushSpeed)

    const loads = reportsFromPoints(map, entities, COST_PER_ENTITY)
    const counted = Object.values(loads).reduce((s, l) => s + l.entities, 0)
    if (counted !== entities.length) report.problems.push(`t=${t}: ${counted} of ${entities.length} entities in partitions`)
    const result = planner.plan({ round: t, worlds: [{ map, loads }], workers, state }, config)
    const next = result.maps[0] as PartitionMap
    report.problems.push(...[...tilingProblems(next), ...ownerProblems(next, workers), ...epochProblems(map, next)].map((p) => `t=${t}: ${p}`))
    tally(report, result.decisions, t, o.flipWindowS, lastShift, lastOwner)
    map = next
    state = result.state
    report.rounds++
    const holds = (id: string | undefined) => id !== undefined && leaves(map).some((l) => l.leaf.owner === id)
    if (o.failAt !== undefined && t >= o.failAt && report.failoverRounds < 0 && !holds(workers[0]?.id)) report.failoverRounds = t - o.failAt + 1
    if (o.drainAt !== undefined && t >= o.drainAt && report.drainRounds < 0 && !holds(workers[1]?.id)) report.drainRounds = t - o.drainAt + 1

    // Load as it really is after the plan: each entity counts for the owner of the ground it stands on.
    const perWorker = new Map<string, number>(workers.filter((w) => w.live && !w.draining).map((w) => [w.id, 0]))
    for (const e of entities) {
      const owner = leafAt(map, e)?.owner
      if (owner && perWorker.has(owner)) perWorker.set(owner, (perWorker.get(owner) ?? 0) + COST_PER_ENTITY)
    }
    const values = [...perWorker.values()]
    const mean = values.reduce((s, v) => s + v, 0) / values.length
    const imb = mean > 0 ? Math.max(...values) / mean : 1
    report.imbalance.push(imb)
    if (t >= o.hotspotAt) {
      report.worstImbalance = Math.max(report.worstImbalance, imb)
      excursion = imb > o.bound ? excursion + 1 : 0
      report.convergeS = Math.max(report.convergeS, excursion)
    }
    report.finalImbalance = imb
  }
  report.finalPartitions = leaves(map).length
  return report
}

function tally(
  report: SimReport, decisions: readonly Decision[], t: number, window: number,
  lastShift: Map<string, { dir: number; t: number }>, lastOwner: Map<string, { owner: string | null; t: number }>,
): void {
  let moves = 0
  for (const d of decisions) {
    if (d.kind === 'split') report.splits++
    else if (d.kind === 'merge') report.merges++
    else if (d.kind === 'shift') {
      report.shifts++
      const prev = lastShift.get(d.partition)
      if (prev && prev.dir !== d.after.dir && t - prev.t < window) report.flips++
      lastShift.set(d.partition, { dir: d.after.dir, t })
    } else {
      moves++
      const prev = lastOwner.get(d.partition)
      if (prev && prev.owner === d.after.owner && t - prev.t < window) report.flips++
      lastOwner.set(d.partition, { owner: d.before.owner, t })
    }
  }
  report.moves += moves
  report.maxMovesInRound = Math.max(report.maxMovesInRound, moves)
}

function spawn(rng: Rng, size: number, speed: number): Entity {
  const a = rng.range(0, 2 * Math.PI)
  const x = rng.range(0, size)
  const y = rng.range(0, size)
  return { x, y, vx: Math.cos(a) * speed, vy: Math.sin(a) * speed, mode: 'wander', tx: x, ty: y }
}

function startRush(rng: Rng, entities: Entity[], hot: Point, fraction: number, radius: number): void {
  for (const e of entities) {
    if (rng.next() >= fraction) continue
    const a = rng.range(0, 2 * Math.PI)
    const r = radius * Math.sqrt(rng.next())
    e.mode = 'rush'
    e.tx = hot.x + Math.cos(a) * r
    e.ty = hot.y + Math.sin(a) * r
  }
}

function scatter(rng: Rng, entities: Entity[], size: number): void {
  for (const e of entities) {
    if (e.mode !== 'rush' && e.mode !== 'settled') continue
    e.mode = 'scatter'
    e.tx = rng.range(0, size)
    e.ty = rng.range(0, size)
  }
}

/** One simulated second of movement. */
function step(rng: Rng, e: Entity, size: number, walk: number, rush: number): void {
  if (e.mode === 'rush' || e.mode === 'scatter') {
    const dx = e.tx - e.x
    const dy = e.ty - e.y
    const d = Math.hypot(dx, dy)
    if (d <= rush) {
      e.x = e.tx
      e.y = e.ty
      e.mode = e.mode === 'rush' ? 'settled' : 'wander'
    } else {
      e.x += (dx / d) * rush
      e.y += (dy / d) * rush
    }
    return
  }
  if (e.mode === 'settled') {
    // Milling about inside the crowd.
    e.x = Math.min(size, Math.max(0, e.x + rng.range(-walk, walk)))
    e.y = Math.min(size, Math.max(0, e.y + rng.range(-walk, walk)))
    return
  }
  if (rng.next() < 0.1) {
    const a = rng.range(0, 2 * Math.PI)
    e.vx = Math.cos(a) * walk
    e.vy = Math.sin(a) * walk
  }
  e.x += e.vx
  e.y += e.vy
  if (e.x < 0 || e.x > size) {
    e.vx = -e.vx
    e.x = Math.min(size, Math.max(0, e.x))
  }
  if (e.y < 0 || e.y > size) {
    e.vy = -e.vy
    e.y = Math.min(size, Math.max(0, e.y))
  }
}
