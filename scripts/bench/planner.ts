/**
 * `planner`: the pure planner on a synthetic cluster — by default 1,000 workers, one world of
 * 10,000 partitions and 100,000 load rectangles (a uniform background plus drifting hotspots).
 * Times `plan()` alone over several rounds (load reports are built outside the timing), then runs
 * the cluster simulator on a few seeds (a crowd walking in, and one appearing at once) for
 * convergence after a hotspot and flips.
 *
 * Flags: `--workers N`, and extra `--partitions P`, `--rects R`, `--rounds N`, `--seed S`,
 * `--sim-seeds K`, `--sim-seconds S`, `--drift D` (hotspot speed, × 0.2% of the world a round; default 1).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { LoadRect, PlannerState, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { Planner } from '../../coordinator/planner/plan.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { leaves, validateMap } from '../../core/partition-map.ts'
import { balancedMap } from '../sim/maps.ts'
import { reportsFromField } from '../sim/reports.ts'
import type { Rng } from '../sim/rng.ts'
import { mulberry32 } from '../sim/rng.ts'
import { runSimulation } from '../sim/simulator.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'

const WARMUP_ROUNDS = 3

/**
 * Young-generation collections before each timed round, so that copying the 100,000 freshly built
 * load rectangles is not billed to the planner (a coordinator receives its reports over a whole
 * second, long promoted by planning time). A full collection would also throw away compiled code.
 */
function collector(): () => void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as unknown
  if (typeof gc !== 'function') return () => {}
  const collect = gc as (options: { type: 'minor' }) => void
  return () => {
    collect({ type: 'minor' })
    collect({ type: 'minor' })
  }
}

function int(flags: BenchFlags, name: string, fallback: number): number {
  const raw = flags.extra[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, got "${raw}"`)
  return n
}

interface Hotspot {
  x: number
  y: number
  vx: number
  vy: number
}

/** `n` small weighted rectangles: scattered evenly, or packed around the hotspots when given. */
function field(rng: Rng, size: number, n: number, hotspots: readonly Hotspot[]): LoadRect[] {
  const out: LoadRect[] = []
  for (let i = 0; i < n; i++) {
    const h = hotspots[i % Math.max(1, hotspots.length)]
    const r = h ? size * 0.03 * Math.sqrt(rng.next()) : 0
    const a = rng.range(0, 2 * Math.PI)
    const x = h ? h.x + Math.cos(a) * r : rng.range(0, size)
    const y = h ? h.y + Math.sin(a) * r : rng.range(0, size)
    const s = rng.range(size * 0.0005, size * 0.002)
    const minX = Math.max(0, Math.min(size - s, x))
    const minY = Math.max(0, Math.min(size - s, y))
    out.push({ minX, minY, maxX: minX + s, maxY: minY + s, weight: rng.range(0.5, 1.5) })
  }
  return out
}

/** Max over mean utilisation, as the planner estimates it after its plan. */
function maxOverMean(loads: Record<string, number>, workers: readonly WorkerInfo[]): number {
  let total = 0
  let cap = 0
  let max = 0
  for (const w of workers) {
    const u = (loads[w.id] ?? 0) / w.capacity
    total += loads[w.id] ?? 0
    cap += w.capacity
    max = Math.max(max, u)
  }
  return total > 0 ? max / (total / cap) : 1
}

const scenario: Scenario = {
  name: 'planner',
  description: 'pure partition planner: ms per planning round on a synthetic cluster, plus the cluster simulator',
  async run(flags: BenchFlags): Promise<BenchResult> {
    const workerCount = flags.workers ?? 1000
    const partitions = int(flags, 'partitions', 10_000)
    const rectCount = int(flags, 'rects', 100_000)
    const rounds = int(flags, 'rounds', 100) + WARMUP_ROUNDS
    const seed = int(flags, 'seed', 7)
    const simSeeds = int(flags, 'sim-seeds', 3)
    const simSeconds = int(flags, 'sim-seconds', 180)
    const drift = Number(flags.extra['drift'] ?? 1)
    if (!Number.isFinite(drift) || drift < 0) throw new Error('--drift must be a number >= 0')
    const rng = mulberry32(seed)
    const size = 100_000
    const config = plannerConfig({ ghostMargin: 16 })
    const gc = collector()

    const hotspots: Hotspot[] = Array.from({ length: 5 }, () => ({
      x: rng.range(size * 0.1, size * 0.9), y: rng.range(size * 0.1, size * 0.9),
      vx: rng.range(-1, 1) * size * 0.002 * drift, vy: rng.range(-1, 1) * size * 0.002 * drift,
    }))
    // Capacity sized for a mean utilisation of one half: total load is about the rectangle count.
    const capacity = (rectCount * 2) / workerCount
    const workers: WorkerInfo[] = Array.from({ length: workerCount }, (_, i) => ({
      id: `w${String(i).padStart(4, '0')}`, capacity, live: true, draining: false, labels: {},
    }))
    // Contiguous blocks of leaves per worker, as a cluster that grew by splitting would have.
    let map: PartitionMap = balancedMap('bench', { minX: 0, minY: 0, maxX: size, maxY: size }, partitions,
      (i) => workers[Math.floor((i * workerCount) / partitions)]?.id ?? null)
    let state: PlannerState = initialPlannerState()
    // One planner across rounds, as the coordinator keeps one (it reuses its scratch copy of the map).
    const planner = new Planner()
    // 70% of the rectangles are a steady background, 30% crowd around five drifting hotspots.
    const hotCount = Math.round(rectCount * 0.3)
    const background = field(rng, size, rectCount - hotCount, [])
    const times: number[] = []
    const cpuTimes: number[] = []
    const imbalance: number[] = []
    const perRound: { round: number; ms: number; cpu: number; decisions: number }[] = []
    const moves: number[] = []
    const decisions: number[] = []
    for (let round = 0; round < rounds; round++) {
      for (const h of hotspots) {
        h.x = Math.min(size * 0.95, Math.max(size * 0.05, h.x + h.vx))
        h.y = Math.min(size * 0.95, Math.max(size * 0.05, h.y + h.vy))
      }
      const loads = reportsFromField(map, [...background, ...field(rng, size, hotCount, hotspots)])
      gc()
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      const result = planner.plan({ round, worlds: [{ map, loads }], workers, state }, config)
      const cpu = process.cpuUsage(c0)
      const ms = performance.now() - t0
      const problems = validateMap(result.maps[0] as PartitionMap)
      if (problems.length > 0) throw new Error(`round ${round}: ${problems.join('; ')}`)
      map = result.maps[0] as PartitionMap
      state = result.state
      if (round < WARMUP_ROUNDS) continue
      times.push(ms)
      cpuTimes.push((cpu.user + cpu.system) / 1000)
      moves.push(result.decisions.filter((d) => d.kind === 'move' || d.kind === 'assign').length)
      imbalance.push(maxOverMean(result.workerLoads, workers))
      decisions.push(result.decisions.length)
      perRound.push({ round, ms, cpu: (cpu.user + cpu.system) / 1000, decisions: result.decisions.length })
    }
    const slowest = [...perRound].sort((a, b) => b.ms - a.ms).slice(0, 3)
    const t = summarize(times)
    const c = summarize(cpuTimes)
    const m = summarize(moves)

    // Each seed twice: a crowd that walks in (150 units/s) and one that appears at once (a step).
    const sims = Array.from({ length: simSeeds }, (_, i) => [
      { kind: 'walk', ...runSimulation({ seed: i + 1, seconds: simSeconds }) },
      { kind: 'step', ...runSimulation({ seed: i + 1, seconds: simSeconds, rushSpeed: 1e9 }) },
    ]).flat()
    const notes = [
      `rounds timed: ${times.length} (after ${WARMUP_ROUNDS} warm-up), partitions at the end: ${leaves(map).length}, ` +
        `decisions per round: mean ${summarize(decisions).mean.toFixed(1)}`,
      `max/mean worker load after each plan: first ${imbalance[0]?.toFixed(2)}, last ${imbalance.at(-1)?.toFixed(2)}, ` +
        `moves in the last 10 rounds: ${moves.slice(-10).join(' ')}`,
      `slowest rounds (wall ms / cpu ms / decisions): ${slowest.map((r) => `#${r.round} ${r.ms.toFixed(1)}/${r.cpu.toFixed(1)}/${r.decisions}`).join(', ')}`,
      ...sims.map((s) => `sim seed ${s.seed} (${s.kind}): converge ${s.convergeS} s, worst max/mean ${s.worstImbalance.toFixed(2)}, ` +
        `moves ${s.moves} (max ${s.maxMovesInRound} a round), splits ${s.splits}, merges ${s.merges}, shifts ${s.shifts}, ` +
        `flips ${s.flips}, problems ${s.problems.length}`),
    ]
    return {
      params: { workers: workerCount, partitions, rects: rectCount, rounds: times.length, seed, drift, simSeeds, simSeconds },
      metrics: {
        round_ms_p50: t.p50,
        round_ms_p99: t.p99,
        round_ms_max: t.max,
        // CPU time of the process during plan(): less at the mercy of a busy shared machine than wall time.
        // Above the wall time when V8's parallel collector threads work inside the round.
        round_cpu_ms_p50: c.p50,
        round_cpu_ms_p99: c.p99,
        moves_per_round: m.mean,
        sim_converge_s: Math.max(...sims.map((s) => s.convergeS)),
        sim_flips: sims.reduce((s, r) => s + r.flips, 0),
      },
      notes,
    }
  },
}

export default scenario
