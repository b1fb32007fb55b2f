/**
 * `hotspot`: 4 real workers and a leading coordinator in this process (one store: in memory, or a
 * throwaway etcd member with `--store etcd`), linked over real gRPC on 127.0.0.1; the workers
 * stream their measured load to the coordinator, which plans from it on its usual interval. The
 * world starts cut in four quadrants, one per worker, with `--bots` demo walkers spread evenly.
 * Then most of them (`--fraction`) walk into one corner (`--corner` of the world's side, inside
 * w1's quadrant), and the planner has to split that ground and spread it over the four workers.
 *
 * Load is the planner's unit, ms of simulation per second per worker (all its partitions, those it
 * is still handing over included), timed here on every tick and taken over the last second: the
 * load as it is. The figures the leader plans from (the workers' reports) are shown too.
 *
 * Figures: `converge_s`, seconds from the crowd forming (90% of its members in the corner) until
 * max/mean worker load is ≤ --bound (1.25) and stays so for 3 s (NaN: never; samples above the
 * bound later on are counted in `samples_over_after`);
 * `moves` (owner changes for balance), `flips` (a border reversing, or a partition going back to
 * the worker it left, within 10 s), `entities_lost` (distinct entities at the end against the
 * start, those held by a sender while its handoff offer is out included), `max_mean_after` (median
 * max/mean over the last 3 s); `entities_held_at_end`: entities out on offer, simulated nowhere,
 * when the run ends (some are always in flight while the crowd crosses borders); and
 * `entities_stuck_after_drain`: those whose offer has been out for over a second, --drain seconds
 * later (any live receiver answers within a few ticks; the first resend is due after 10).
 *
 * Capacity matters: the planner leaves a cluster alone while every worker is below 20% of its
 * budget, so the budget must be small enough for the crowd to count as load.
 *
 * Flags: --bots (3000 walkers), --seconds (20: measured after the crowd formed), --store,
 * extra --size (512), --capacity (each worker's load budget, ms/s; 100), --fraction (0.8),
 * --corner (0.25), --speed (crowd walking speed, 60 units/s), --warmup (5 s), --interval
 * (coordinator's planning interval; the coordinator's default), --report (workers' report
 * interval; the worker's default), --bound (1.25), --drain (5 s), --plan-log 1 (print every
 * planning round from the call: what it decided, the planner's estimated load per worker after it,
 * entities still being handed over; and every sample's measured load, GC pauses inside each
 * worker's ticks and its longest tick), --planner JSON (planner options over the defaults), --json.
 */
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import { workerLoads } from '../../coordinator/planning-input.ts'
import type { ClusterEvent } from '../../core/api/types.ts'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { encodeMap, leaves } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { EtcdStore, MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import type { EtcdMember } from '../lib/etcd.ts'
import { startEtcd } from '../lib/etcd.ts'
import { TickMeter, maxOverMean, runnersOf, worldCensus } from './lib/census.ts'
import { crowdGame, inCrowd } from './lib/crowd-game.ts'
import type { CrowdSwitch } from './lib/crowd-game.ts'
import { sleep } from './lib/ticker.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { percentile } from './scenario.ts'

const WORLD = 'hot'
const WORKERS = ['w1', 'w2', 'w3', 'w4'] as const
const SAMPLE_MS = 250
/** A border reversing or a partition returning to the worker it left within this long is a flip. */
const FLIP_WINDOW_MS = 10_000
/** Share of the crowd that must stand in the corner for the crowd to count as formed. */
const FORMED = 0.9

/** The world cut in four quadrants, w1 holding the one at the origin. */
function quadrants(bounds: Rect): PartitionMap {
  const mid = (bounds.maxX - bounds.minX) / 2
  const leaf = (id: string, owner: string) => ({ kind: 'leaf' as const, id, owner, epoch: 1 })
  return {
    worldId: WORLD, bounds, version: 1, nextId: 7,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: bounds.minX + mid,
      low: { kind: 'split', id: 'p1', axis: 'y', at: bounds.minY + mid, low: leaf('p3', 'w1'), high: leaf('p4', 'w2') },
      high: { kind: 'split', id: 'p2', axis: 'y', at: bounds.minY + mid, low: leaf('p5', 'w3'), high: leaf('p6', 'w4') },
    },
  }
}

interface Sample {
  /** ms since the crowd was called. */
  t: number
  actual: number
  reported: number
  arrived: number
  partitions: number
  /** Measured load per worker (ms/s, WORKERS order). */
  loads: number[]
  /** With the plan log, per worker: GC pause time inside its ticks (ms/s) and its longest tick (ms), same window. */
  detail?: Array<{ gc: number; longest: number }>
}

/** Moves and flips, from the coordinator's decision events (as the planner simulator counts them). */
function decisionTally(): { onEvent: (e: ClusterEvent) => void; moves: number; shifts: number; splits: number; merges: number; flips: number } {
  const lastShift = new Map<string, { dir: number; at: number }>()
  const lastOwner = new Map<string, { owner: string | null; at: number }>()
  const tally = {
    moves: 0, shifts: 0, splits: 0, merges: 0, flips: 0,
    onEvent: (e: ClusterEvent): void => {
      if (e.type !== 'decision' || !e.details || !e.partitionId) return
      const at = performance.now()
      const kind = e.details['kind']
      if (kind === 'split') tally.splits++
      else if (kind === 'merge') tally.merges++
      else if (kind === 'shift') {
        tally.shifts++
        const dir = (e.details['after'] as { dir: number }).dir
        const prev = lastShift.get(e.partitionId)
        if (prev && prev.dir !== dir && at - prev.at < FLIP_WINDOW_MS) tally.flips++
        lastShift.set(e.partitionId, { dir, at })
      } else if (kind === 'move') {
        tally.moves++
        const before = (e.details['before'] as { owner: string | null }).owner
        const after = (e.details['after'] as { owner: string | null }).owner
        const prev = lastOwner.get(e.partitionId)
        if (prev && prev.owner === after && at - prev.at < FLIP_WINDOW_MS) tally.flips++
        lastOwner.set(e.partitionId, { owner: before, at })
      }
    },
  }
  return tally
}

async function run(flags: BenchFlags): Promise<BenchResult> {
  const bots = flags.bots ?? 3000
  const seconds = flags.seconds ?? 20
  const size = Number(flags.extra['size'] ?? 512)
  const capacity = Number(flags.extra['capacity'] ?? 100)
  const fraction = Number(flags.extra['fraction'] ?? 0.8)
  const corner = Number(flags.extra['corner'] ?? 0.25)
  const speed = Number(flags.extra['speed'] ?? 60)
  const warmup = Number(flags.extra['warmup'] ?? 5)
  // The cluster's own defaults unless a flag says otherwise.
  const interval = Number(flags.extra['interval'] ?? coordinatorOptions().rebalanceIntervalMs)
  const reportMs = Number(flags.extra['report'] ?? workerOptions().reportIntervalMs)
  const bound = Number(flags.extra['bound'] ?? 1.25)
  const drainS = Number(flags.extra['drain'] ?? 5)
  const planLog = flags.extra['plan-log'] !== undefined
  const bounds: Rect = { minX: 0, minY: 0, maxX: size, maxY: size }
  const crowd: CrowdSwitch = { active: false, region: { minX: 0, minY: 0, maxX: size * corner, maxY: size * corner }, fraction, speed }

  let etcd: EtcdMember | undefined
  const stores: ClusterStore[] = []
  // On etcd every component gets its own client, as separate processes would.
  const storeFor = (): ClusterStore => {
    if (!etcd) return (stores[0] ??= new MemoryStore())
    const s = new EtcdStore({ endpoints: [etcd.endpoint] })
    stores.push(s)
    return s
  }
  if (flags.store === 'etcd') etcd = await startEtcd()
  const keys = scopedKeys('/bench-hotspot/')
  const { publicKey } = await generateTicketKeys()
  const transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => new Map([['k', publicKey]]), () => false),
    logger: silentLogger(),
  })
  const coordinator = new Coordinator(
    storeFor(), keys,
    coordinatorOptions({ id: 'c1', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: interval, logLevel: 'silent', planner: JSON.parse(String(flags.extra['planner'] ?? '{}')) as Record<string, unknown> }),
    silentLogger(),
  )
  const workers = WORKERS.map(
    (id) =>
      new Worker({
        store: storeFor(), keys, transport, logger: silentLogger(), game: () => crowdGame(crowd),
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: bots, capacity, reportIntervalMs: reportMs, logLevel: 'silent' }),
      }),
  )
  const tally = decisionTally()
  const unsubscribe = coordinator.events.subscribe(tally.onEvent)
  const rounds = planLog ? logRounds(coordinator, workers) : []
  const meter = new TickMeter(workers)
  const notes: string[] = []
  try {
    await coordinator.start()
    for (const w of workers) await w.start()
    const admin = storeFor()
    await admin.put(keys.world(WORLD), JSON.stringify({ id: WORLD, kind: 'world', bounds, labels: {}, createdAt: Date.now() }))
    await admin.put(keys.worldMap(WORLD), encodeMap(quadrants(bounds)))
    const ready = performance.now() + 20_000
    while (!(coordinator.isLeader && workers.every((w) => w.partitions().length > 0) && workerLoadsReported(coordinator) === WORKERS.length)) {
      if (performance.now() > ready) throw new Error('the workers did not take their quadrants and report within 20 s')
      meter.watch()
      await sleep(100)
    }
    for (let t = 0; t < warmup * 1000; t += SAMPLE_MS) {
      meter.watch()
      await sleep(SAMPLE_MS)
    }
    const entitiesBefore = worldCensus(workers, WORLD).total
    const members = countMembers(workers, crowd)
    const before = meter.load()
    notes.push(`before the crowd: ${entitiesBefore} entities (${members.total} in the crowd), load ${fmtLoads(before)} ms/s, max/mean ${maxOverMean(before.values()).toFixed(2)}`)

    // The crowd walks; the clock of every figure starts here.
    const movesBefore = tally.moves
    crowd.active = true
    const calledAt = performance.now()
    const samples: Sample[] = []
    let formedAt: number | undefined
    const formTimeout = Math.max(30_000, ((size * Math.SQRT2) / speed) * 3000)
    for (;;) {
      await sleep(SAMPLE_MS)
      meter.watch()
      const t = performance.now() - calledAt
      const arrived = countMembers(workers, crowd)
      const measured = meter.load()
      // Only the plan log prints it.
      const detail = planLog ? meter.detail() : undefined
      const actual = maxOverMean(measured.values())
      const reportedLoads = workerLoads(coordinator.loads)
      const reported = maxOverMean(WORKERS.map((id) => reportedLoads[id] ?? 0))
      const map = coordinator.view.map(WORLD)?.value
      samples.push({
        t, actual, reported, arrived: arrived.inCorner / Math.max(1, arrived.total), partitions: map ? leaves(map).length : 0,
        loads: WORKERS.map((id) => measured.get(id) ?? 0),
        ...(detail ? { detail: WORKERS.map((id) => detail.get(id) ?? { gc: 0, longest: 0 }) } : {}),
      })
      if (formedAt === undefined && arrived.inCorner >= FORMED * arrived.total) formedAt = t
      if (formedAt === undefined && t > formTimeout) throw new Error(`the crowd did not form within ${(formTimeout / 1000).toFixed(0)} s`)
      if (formedAt !== undefined && t >= formedAt + seconds * 1000) break
    }
    const formed = formedAt as number
    const atEnd = worldCensus(workers, WORLD)
    // Entities still out on offer when the run ends are frozen (simulated nowhere) until answered:
    // give the handoffs a moment to finish before counting what is lost. Those offered in the last
    // tick or two are in flight, not stuck: the crowd keeps crossing borders.
    const drainUntil = performance.now() + drainS * 1000
    let drained = atEnd
    while (drained.stuck > 0 && performance.now() < drainUntil) {
      await sleep(200)
      drained = worldCensus(workers, WORLD)
    }
    const entitiesAfter = drained.total
    // Link traffic and handoff outcomes, summed over the workers: what was queued, written and
    // received on the neighbour links, and how many offers were made, taken in and refused.
    const link: Record<string, number> = {}
    for (const w of workers) for (const [k, v] of Object.entries(w.links.counters)) link[k] = (link[k] ?? 0) + v
    const hand = { out: 0, in: 0, refused: 0, resent: 0, replies: 0, transfers: 0 }
    for (const w of workers) {
      hand.transfers += w.border.stats.transfersOut
      hand.out += w.border.stats.handoffsOut
      hand.in += w.border.stats.handoffsIn
      hand.resent += w.border.stats.offersResent
      hand.replies += w.border.stats.repliesIn
      hand.refused += Object.values(w.border.stats.refused).reduce((a, b) => a + b, 0)
    }
    // Why entities are still held: what their receiver answered, and whether their runner lives.
    const why = new Map<string, number>()
    for (const w of workers) {
      for (const o of w.border.offersOut()) {
        const to = workers.find((x) => x.id === o.toWorker)
        const linked = w.links.connected().includes(o.toWorker)
        const q = w.links.queued(o.toWorker)
        const k = `${w.id}→${o.toWorker} ${to?.border.answered(o.handoffId) ?? 'unanswered'}${o.runnerLive ? '' : ' runner gone'}${linked ? '' : ' unlinked'} tries ${Math.min(o.attempts, 5)} queue ${q.control}/${q.inFlight}/${q.buffered} ${q.state}`
        why.set(k, (why.get(k) ?? 0) + 1)
      }
    }
    const ages = workers.flatMap((w) => w.border.offersOut().map((o) => o.heldMs)).sort((a, b) => a - b)
    if (ages.length > 0) notes.push(`held offers' age: median ${percentile(ages, 50).toFixed(0)} ms, p99 ${percentile(ages, 99).toFixed(0)} ms, oldest ${(ages.at(-1) ?? 0).toFixed(0)} ms`)
    if (why.size > 0) notes.push(`held offers: ${[...why].map(([k, n]) => `${k}: ${n}`).join('; ')}`)
    const refused: Record<string, number> = {}
    for (const w of workers) for (const [k, v] of Object.entries(w.border.stats.refused)) refused[k] = (refused[k] ?? 0) + v
    notes.push(`refusals by reason: ${JSON.stringify(refused)}`)
    notes.push(`links: ${Object.entries(link).map(([k, v]) => `${k} ${v}`).join(', ')}; handoffs: ${hand.out} offered, ${hand.resent} re-sent, ${hand.in} taken in, ${hand.refused} refused, ${hand.replies} replies taken in; ${hand.transfers} partitions (or parts) shipped whole`)
    notes.push(`at the end: ${atEnd.simulated} entities simulated, ${atEnd.held} held on offer (simulated nowhere); ` +
      `${drained.stuck} held for over a second ${drainS} s later (${drained.held} in flight then)`)
    const after = meter.load()
    const map = coordinator.view.map(WORLD)?.value
    const owners = map ? leaves(map).map((l) => `${l.leaf.id}→${l.leaf.owner ?? '-'}`).join(' ') : ''
    notes.push(`crowd formed ${(formed / 1000).toFixed(1)} s after it was called; end: load ${fmtLoads(after)} ms/s, ${entitiesAfter} entities, partitions ${owners}`)
    notes.push(`decisions after the call: ${tally.moves - movesBefore} moves; in all ${tally.splits} splits, ${tally.merges} merges, ${tally.shifts} shifts`)
    // With the plan log every sample, with each worker's measured load; else one a second.
    for (const s of samples.filter((_, i) => planLog || i % 4 === 3)) {
      const per = planLog ? `  measured ${s.loads.map((x) => x.toFixed(0)).join('/')} ms/s  gc ${(s.detail ?? []).map((x) => x.gc.toFixed(0)).join('/')}  longest ${(s.detail ?? []).map((x) => x.longest.toFixed(0)).join('/')}` : ''
      notes.push(`  t=${((s.t - formed) / 1000).toFixed(1).padStart(5)} s  max/mean ${s.actual.toFixed(2)} (reported ${s.reported.toFixed(2)})  in corner ${(s.arrived * 100).toFixed(0)}%  partitions ${s.partitions}${per}`)
    }
    if (planLog) {
      notes.push('plan per round from the call (t from the crowd forming; reported max/mean as the round saw it):')
      for (const r of rounds.filter((x) => x.at >= calledAt)) notes.push(`  t=${((r.at - calledAt - formed) / 1000).toFixed(1).padStart(5)} s  ${r.line}`)
    }
    const convergeActual = convergeSeconds(samples, formed, (s) => s.actual, bound)
    const last3 = samples.filter((s) => s.t >= formed + seconds * 1000 - 3000)
    return {
      params: {
        bots, seconds, store: flags.store, workers: WORKERS.length, size, capacity, fraction, corner, speed, warmup,
        rebalance_interval_ms: interval, report_interval_ms: reportMs, bound, process: 'coordinator and 4 workers in one process, gRPC between them',
      },
      metrics: {
        converge_s: convergeActual,
        moves: tally.moves - movesBefore,
        flips: tally.flips,
        entities_lost: entitiesBefore - entitiesAfter,
        entities_held_at_end: atEnd.held,
        entities_stuck_after_drain: drained.stuck,
        held_oldest_ms: ages.at(-1) ?? 0,
        max_mean_after: percentile(last3.map((s) => s.actual).sort((a, b) => a - b), 50),
        converge_reported_s: convergeSeconds(samples, formed, (s) => s.reported, bound),
        samples_over_after: excursionsAfter(samples, formed, (s) => s.actual, bound, convergeActual),
        max_mean_reported_after: percentile(last3.map((s) => s.reported).sort((a, b) => a - b), 50),
        crowd_form_s: formed / 1000,
        partitions: map ? leaves(map).length : 0,
        entities: entitiesBefore,
      },
      notes,
    }
  } finally {
    unsubscribe()
    meter.stop()
    for (const w of workers) await w.stop()
    await coordinator.stop()
    await transport.close()
    for (const s of stores) await s.close()
    await etcd?.stop()
  }
}

/**
 * Seconds from `formed` until the imbalance is within `bound` and stays there for `holdMs` (a lone
 * noisy sample later does not undo it: those are counted apart); NaN when that never happens.
 */
export function convergeSeconds<T extends { t: number }>(samples: readonly T[], formed: number, value: (s: T) => number, bound: number, holdMs = 3000): number {
  const after = samples.filter((s) => s.t >= formed)
  for (const [i, s] of after.entries()) {
    if (value(s) > bound) continue
    // The run must go on long enough to see the hold (samples come about every SAMPLE_MS).
    if ((after.at(-1) as T).t < s.t + holdMs - SAMPLE_MS) break
    if (after.slice(i).every((o) => o.t > s.t + holdMs || value(o) <= bound)) return (s.t - formed) / 1000
  }
  return Number.NaN
}

/** Samples above `bound` after the imbalance first converged (noise, or the balance coming undone). */
export function excursionsAfter<T extends { t: number }>(samples: readonly T[], formed: number, value: (s: T) => number, bound: number, convergeS: number): number {
  if (Number.isNaN(convergeS)) return 0
  return samples.filter((s) => s.t >= formed + convergeS * 1000 && value(s) > bound).length
}

/**
 * With `--plan-log`: one line per planning round that decided something: the reported max/mean it
 * started from, what it decided, the planner's own estimate of each worker's load after the plan,
 * and how many entities were being handed over (held by a retiring partition) right after it.
 */
function logRounds<S, M>(coordinator: Coordinator, workers: readonly Worker<S, M>[]): Array<{ at: number; line: string }> {
  const out: Array<{ at: number; line: string }> = []
  const rebalancer = coordinator.rebalancer
  const retiring = () => workers.flatMap((w) => runnersOf(w)).filter((r) => r.retiringSince !== undefined).reduce((n, r) => n + r.sim.entityCount, 0)
  const runRound = rebalancer.runRound.bind(rebalancer)
  rebalancer.runRound = async () => {
    const loads = workerLoads(coordinator.loads)
    const seen = maxOverMean(WORKERS.map((id) => loads[id] ?? 0))
    const outcome = await runRound()
    if (outcome.ran && outcome.decisions.length > 0) {
      const count = (k: string) => outcome.decisions.filter((d) => d.kind === k).length
      const what = outcome.decisions.map((d) => d.kind === 'move' ? `${d.partition}:${d.before.owner}→${d.after.owner}` : d.kind === 'shift' ? `shift ${d.partition}` : `${d.kind} ${d.partition}`)
      const planned = WORKERS.map((id) => outcome.workerLoads[id] ?? 0)
      // The planner's picture before its decisions: the one after, with each move and shift undone.
      const seenByPlanner = new Map(WORKERS.map((id) => [id as string, outcome.workerLoads[id] ?? 0]))
      const undo = (id: string | null | undefined, delta: number) => {
        if (id) seenByPlanner.set(id, (seenByPlanner.get(id) ?? 0) + delta)
      }
      for (const d of outcome.decisions) {
        if (d.kind === 'move' || d.kind === 'assign') {
          undo(d.after.owner, -d.load)
          undo(d.before.owner, d.load)
        }
      }
      out.push({ at: performance.now(), line: `round ${outcome.round}: reported ${seen.toFixed(2)}; planner saw ${[...seenByPlanner.values()].map((x) => x.toFixed(0)).join('/')}; planned ${planned.map((x) => x.toFixed(0)).join('/')} ms/s = ${maxOverMean(planned).toFixed(2)}; retiring ${retiring()}; ${count('split')} splits, ${count('move')} moves, ${count('shift')} shifts, ${count('merge')} merges: ${what.join(' ')}` })
    }
    return outcome
  }
  return out
}

function workerLoadsReported(coordinator: Coordinator): number {
  return Object.keys(workerLoads(coordinator.loads)).length
}

/** Crowd members in the world and how many of them stand in the corner. */
function countMembers<S, M>(workers: readonly Worker<S, M>[], crowd: CrowdSwitch): { total: number; inCorner: number } {
  const r = crowd.region
  let total = 0
  let inCorner = 0
  for (const w of workers) {
    for (const runner of runnersOf(w)) {
      for (const e of runner.sim.allEntities()) {
        if (e.control !== 'npc' || !inCrowd(crowd, e.id)) continue
        total++
        if (e.x <= r.maxX && e.y <= r.maxY && e.x >= r.minX && e.y >= r.minY) inCorner++
      }
    }
  }
  return { total, inCorner }
}

function fmtLoads(loads: Map<string, number>): string {
  return [...loads].map(([id, v]) => `${id} ${v.toFixed(0)}`).join(', ')
}

const scenario: Scenario = {
  name: 'hotspot',
  description: '4 workers planned by a coordinator from their real load; most walkers crowd into one corner',
  run,
}
export default scenario
