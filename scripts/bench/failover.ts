/**
 * `failover`: kill -9 one of three workers carrying players, and time the way back.
 *
 * The production shape, every service its own process on a throwaway etcd member: a coordinator,
 * three `tessera worker`s (so the kill is a real SIGKILL of a real process) and a gateway. One world
 * cut in three vertical strips, one per worker, with `--npcs` demo walkers, and `--bots` real
 * geckos.io players (the player library in Node, in this process) joined through the gateway, a
 * third of them spawned in each strip, each walking a small square. Rebalancing is paused so that
 * the only owner change is the failover (orphaned partitions are still assigned while paused).
 *
 * After `--warmup` seconds the victim (`--victim`, default w2, the middle strip) is killed with
 * SIGKILL. Nothing tells anyone: its lease runs out (`--lease-ttl`), the coordinator's next planning
 * round gives the orphaned strip to a live worker, and each of the victim's players notices that it
 * hears nothing (the client's heartbeat timeout), reconnects through the gateway (the client
 * library's reconnect path, `client/reconnect.ts`, with its default backoff) to whoever owns the
 * ground where it stood, and gets snapshots again.
 *
 * Figures:
 * - `recover_s`: seconds from the kill until every partition has a live owner again AND every bot
 *   that did not give up has received a snapshot on a session opened after the kill (bots that were
 *   on other workers count from their first snapshot after the kill: they are not disturbed).
 * - `bots_lost`: bots that gave up (the client closed) or had no snapshot by the end (`--seconds`
 *   after the kill).
 * - `rollback_s`: how much of a re-admitted player's past its resumed state has forgotten, median
 *   over the victim's bots. A bot's history is its own position in each snapshot it received
 *   before the kill; the state it resumes from is its entity in the first snapshot after it is
 *   re-admitted. If that is the same entity (same id) at a position the bot held at time t (within
 *   a tick's walk), rollback = kill − t; otherwise the player restarts as a new entity and nothing
 *   of its session survives: rollback = kill − its first join (the whole session).
 *
 * The stages that make up recovery are printed too: lease gone, map reassigned, bots' detection of
 * the silence (the reconnecting state), re-admission (join-accepted), first snapshot; plus the
 * world's entities before and after (walkers of the dead strip are not restored) and entities that
 * two live workers both simulate (an id collision or a duplicate) after recovery.
 *
 * Flags: --bots (45), --seconds (30: the longest wait after the kill), --store (etcd; the only one
 * separate processes can share), extra --lease-ttl (worker lease TTL, 2 s), --interval (coordinator
 * planning interval, 1000 ms, its default), --report (workers' load report interval, 500 ms),
 * --npcs (300 walkers in the world), --warmup (5 s), --victim (w2), --heartbeat-timeout (the client's
 * silence limit; default: the library's 5000 ms), --json.
 */
import { installNodeWebRTC } from '../../client/polyfill-node.ts'
import { connect as connectGeckos } from '../../client/connection.ts'
import { requestGrant } from '../../client/gateway-api.ts'
import { defaultBackoff } from '../../client/reconnect.ts'
import type { Rect } from '../../core/geometry.ts'
import { decodeMap, encodeMap, leaves } from '../../core/partition-map.ts'
import type { DebugEntities } from '../../worker/debug-entities.ts'
import { ProcessCluster } from '../../tests/e2e/helpers/process-cluster.ts'
import { judgeSample } from '../../tests/helpers/ownership-audit.ts'
import type { WorkerRead } from '../../tests/helpers/ownership-audit.ts'
import { createBehaviour, seededRandom } from '../bots/behaviours.ts'
import { Bot } from '../bots/bot.ts'
import { sleep } from './lib/ticker.ts'
import { until } from './lib/until.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'

const WORLD = 'fo'
const WORKERS = ['w1', 'w2', 'w3'] as const
const POLL_MS = 50
/** Once everything has recovered, watch this much longer for anything falling over again. */
const STABLE_MS = 2000

/** One bot's view of the run, filled by its client's events. */
interface Track {
  bot: Bot
  index: number
  /** The worker serving it now (from its grant, then its migrations). */
  worker: string
  /** First join-accepted, ms (performance.now()). */
  joinedAt: number
  /** Its own position in recent snapshots before the kill: [ms, x, y]. */
  history: Array<[number, number, number]>
  /** Its entity id when the victim was killed. */
  selfAtKill: number | undefined
  /** On the victim when it was killed. */
  onVictim: boolean
  /** After the kill: when it entered the reconnecting state, was re-admitted, got its first snapshot. */
  downAt: number | undefined
  rejoinedAt: number | undefined
  upAt: number | undefined
  /** Its entity and position in the first snapshot of its new session. */
  resumed: { id: number | undefined; x: number; y: number } | undefined
  /** Failed reconnection attempts after the kill, by error code. */
  failures: Map<string, number>
}

function holdings(workerId: string, d: DebugEntities | undefined): WorkerRead {
  const out: WorkerRead['holdings'][number][] = []
  for (const p of d?.partitions ?? []) for (const e of p.entities) out.push({ entityId: e.id, holding: { kind: 'sim', partitionId: p.partitionId } })
  for (const o of d?.offers ?? []) out.push({ entityId: o.entityId, holding: { kind: 'offer' } })
  return { workerId, holdings: out }
}

async function run(flags: BenchFlags): Promise<BenchResult> {
  if (flags.store === 'memory' && process.argv.includes('--store')) {
    throw new Error('failover runs its services as separate processes: they share etcd (--store etcd)')
  }
  const botCount = flags.bots ?? 45
  const seconds = flags.seconds ?? 30
  const leaseTtl = Number(flags.extra['lease-ttl'] ?? 2)
  const interval = Number(flags.extra['interval'] ?? 1000)
  const reportMs = Number(flags.extra['report'] ?? 500)
  const npcs = Number(flags.extra['npcs'] ?? 300)
  const warmup = Number(flags.extra['warmup'] ?? 5)
  const victim = flags.extra['victim'] ?? 'w2'
  const heartbeatTimeoutMs = flags.extra['heartbeat-timeout'] !== undefined ? Number(flags.extra['heartbeat-timeout']) : undefined
  if (!(WORKERS as readonly string[]).includes(victim)) throw new Error(`--victim must be one of ${WORKERS.join(', ')}`)
  const strip = 200
  const bounds: Rect = { minX: 0, minY: 0, maxX: strip * 3, maxY: strip }
  const notes: string[] = []

  installNodeWebRTC()
  const cluster = new ProcessCluster()
  const tracks: Track[] = []
  // Ctrl-C: stop the cluster (processes, etcd, temp dirs), then leave; 'exit' handlers SIGKILL
  // whatever a stop did not end.
  const onSignal = (): void => {
    void cluster.stop().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  try {
    await cluster.start({
      workers: WORKERS, npcs,
      workerFlags: ['--lease-ttl-seconds', String(leaseTtl), '--report-interval-ms', String(reportMs)],
      coordinatorFlags: ['--rebalance-interval-ms', String(interval)],
    })
    await cluster.operator('rebalancing/pause')
    const { store, keys } = cluster
    const leaf = (id: string, owner: string) => ({ kind: 'leaf' as const, id, owner, epoch: 1 })
    await store.put(keys.worldMap(WORLD), encodeMap({
      worldId: WORLD, bounds, version: 1, nextId: 5,
      root: {
        kind: 'split', id: 'p0', axis: 'x', at: strip,
        low: leaf('p1', 'w1'),
        high: { kind: 'split', id: 'p2', axis: 'x', at: strip * 2, low: leaf('p3', 'w2'), high: leaf('p4', 'w3') },
      },
    }))
    await store.put(keys.world(WORLD), JSON.stringify({ id: WORLD, kind: 'world', bounds, labels: {}, createdAt: Date.now() }))
    await until('every strip simulated', async () => {
      const reads = await Promise.all(WORKERS.map((w) => cluster.entities(w)))
      return reads.every((r) => (r?.partitions.length ?? 0) === 1)
    }, 20_000, 100)

    const gateway = cluster.gateway.info['url'] as string
    const workerByUrl = new Map([...cluster.workers].map(([id, p]) => [p.info['clientUrl'] as string, id]))
    const connect = heartbeatTimeoutMs !== undefined
      ? (o: Parameters<typeof connectGeckos>[0]) => connectGeckos({ ...o, heartbeatTimeoutMs })
      : undefined
    // Set at the kill; the bots' event handlers read it.
    const kill: { at: number | undefined } = { at: undefined }

    // Bots: a third in each strip, away from the borders, each walking a 40-unit square.
    for (let i = 0; i < botCount; i++) {
      const random = seededRandom(1000 + i)
      const bot = new Bot(i, createBehaviour('path', random), 20, { alignTicks: true, ...(connect ? { connect } : {}) })
      const t: Track = {
        bot, index: i, worker: '', joinedAt: 0, history: [], selfAtKill: undefined, onVictim: false,
        downAt: undefined, rejoinedAt: undefined, upAt: undefined, resumed: undefined, failures: new Map(),
      }
      tracks.push(t)
      const c = bot.client
      c.on('snapshot', () => {
        const now = performance.now()
        const p = c.selfPosition()
        if (kill.at === undefined) {
          if (p) t.history.push([now, p.x, p.y])
          // Ten seconds of history is more than any restore could reach back.
          while (t.history.length > 200) t.history.shift()
          return
        }
        if (t.upAt === undefined && c.state === 'connected') {
          t.upAt = now
          if (t.downAt !== undefined && p) t.resumed = { id: c.self, ...p }
        }
      })
      c.on('stateChange', ({ state }) => {
        if (kill.at === undefined || state === 'connected') return
        // Down again (or for the first time) after the kill: what counts is the session after this.
        t.downAt ??= performance.now()
        t.upAt = undefined
        t.resumed = undefined
      })
      c.on('joined', () => {
        if (t.joinedAt === 0) t.joinedAt = performance.now()
        else if (kill.at !== undefined) t.rejoinedAt = performance.now()
      })
      c.on('migrated', (m) => {
        t.worker = workerByUrl.get(m.to) ?? t.worker
      })
      c.on('error', (e) => {
        if (kill.at !== undefined) t.failures.set(e.code, (t.failures.get(e.code) ?? 0) + 1)
      })
    }
    // Join in batches; a reconnection asks the gateway for the ground the bot last stood on.
    for (let i = 0; i < tracks.length; i += 10) {
      await Promise.all(tracks.slice(i, i + 10).map(async (t) => {
        const s = t.index % 3
        const random = seededRandom(1000 + t.index)
        const first = { x: s * strip + 40 + random() * (strip - 120), y: 40 + random() * (strip - 120) }
        await t.bot.join(async () => {
          const at = t.bot.client.selfPosition() ?? first
          const spawn = { x: clamp(at.x, bounds.minX, bounds.maxX), y: clamp(at.y, bounds.minY, bounds.maxY) }
          const g = await requestGrant({ gateway, playerId: `bot-${t.index}` }, { world: WORLD, spawn })
          t.worker = g.workerId ?? workerByUrl.get(g.workerUrl) ?? ''
          return { url: g.workerUrl, ticket: g.ticket }
        })
      }))
    }
    await sleep(warmup * 1000)
    const silent = tracks.filter((t) => t.history.length === 0).length
    if (silent > 0) throw new Error(`${silent} bots had no snapshot after ${warmup} s of warm-up`)

    // The world before: every entity, from a settled sample of the three workers.
    const readAll = (ids: readonly string[]) => (): Promise<Array<DebugEntities | undefined>> => Promise.all(ids.map((w) => cluster.entities(w)))
    const before = await settledCensus(readAll(WORKERS), WORKERS)

    // The kill.
    const victimProc = cluster.workers.get(victim)
    if (!victimProc) throw new Error(`no worker ${victim}`)
    for (const t of tracks) {
      t.onVictim = t.worker === victim
      t.selfAtKill = t.bot.client.self
    }
    const killed = performance.now()
    kill.at = killed
    victimProc.child.kill('SIGKILL')

    let leaseGoneAt: number | undefined
    let ownedAt: number | undefined
    let stableSince: number | undefined
    const deadline = killed + seconds * 1000
    const survivors = WORKERS.filter((w) => w !== victim)
    while (performance.now() < deadline) {
      const now = performance.now()
      if (leaseGoneAt === undefined && (await store.get(keys.worker(victim))) === undefined) leaseGoneAt = performance.now()
      if (ownedAt === undefined) {
        const raw = await store.get(keys.worldMap(WORLD))
        const map = raw ? decodeMap(raw.value) : undefined
        if (map && leaves(map).every((l) => l.leaf.owner !== null && (survivors as readonly string[]).includes(l.leaf.owner))) ownedAt = performance.now()
      }
      const done = ownedAt !== undefined && tracks.every((t) => t.bot.client.state === 'closed' || t.upAt !== undefined)
      if (!done) stableSince = undefined
      else if (stableSince === undefined) stableSince = now
      else if (now - stableSince >= STABLE_MS) break
      await sleep(POLL_MS)
    }

    // The world after: the two live workers, settled (players re-admitted, walkers walking).
    const after = await settledCensus(readAll(survivors), survivors)

    const s = (ms: number | undefined): number => (ms === undefined ? Number.NaN : (ms - killed) / 1000)
    const lost = tracks.filter((t) => t.bot.client.state === 'closed' || t.upAt === undefined)
    const kept = tracks.filter((t) => !lost.includes(t))
    const recoverMs = Math.max(ownedAt ?? Number.POSITIVE_INFINITY, ...kept.map((t) => t.upAt as number))
    const victims = tracks.filter((t) => t.onVictim)
    // Rollback of each re-admitted victim bot (see the header for the definition).
    const tickWalk = 4 / 20 + 0.5
    const rollbacks: number[] = []
    let respawned = 0
    for (const t of victims) {
      if (!t.resumed) continue
      const r = t.resumed
      const same = r.id !== undefined && r.id === t.selfAtKill
      const match = same ? [...t.history].reverse().find(([, x, y]) => Math.hypot(x - r.x, y - r.y) <= tickWalk) : undefined
      if (match) rollbacks.push((killed - match[0]) / 1000)
      else {
        respawned++
        rollbacks.push((killed - t.joinedAt) / 1000)
      }
    }
    const stage = (xs: Array<number | undefined>): string => {
      const v = xs.filter((x): x is number => x !== undefined).map((x) => (x - killed) / 1000)
      if (v.length === 0) return '—'
      const q = summarize(v)
      return `min ${Math.min(...v).toFixed(2)} s, p50 ${q.p50.toFixed(2)} s, max ${q.max.toFixed(2)} s (${v.length})`
    }
    const sessions = summarize(victims.map((t) => (killed - t.joinedAt) / 1000))
    const attempts = new Map<string, number>()
    for (const t of victims) for (const [code, n] of t.failures) attempts.set(code, (attempts.get(code) ?? 0) + n)
    const others = tracks.filter((t) => !t.onVictim)
    notes.push(
      `killed ${victim} (${victims.length} of ${tracks.length} bots on it) with SIGKILL; lease TTL ${leaseTtl} s, planning every ${interval} ms, ` +
        `client heartbeat timeout ${heartbeatTimeoutMs ?? 5000} ms, reconnect backoff ${defaultBackoff.initialMs} ms ×${defaultBackoff.factor} up to ${defaultBackoff.maxMs} ms, ${defaultBackoff.maxAttempts} attempts`,
      `  lease gone            ${s(leaseGoneAt).toFixed(2)} s after the kill`,
      `  strip reassigned      ${s(ownedAt).toFixed(2)} s`,
      `  victim's bots: silence noticed ${stage(victims.map((t) => t.downAt))}; re-admitted ${stage(victims.map((t) => t.rejoinedAt))}; first snapshot ${stage(victims.map((t) => t.upAt))}`,
      `  failed reconnection attempts: ${[...attempts].map(([c, n]) => `${c} ×${n}`).join(', ') || 'none'}`,
      `  other bots: first snapshot after the kill ${stage(others.map((t) => t.upAt))}; reconnected ${others.filter((t) => t.downAt !== undefined).length}`,
      `  rollback: ${respawned} of ${rollbacks.length} re-admitted bots restarted as a new entity at a fresh spawn point ` +
        `(joined a median ${sessions.p50.toFixed(1)} s, up to ${sessions.max.toFixed(1)} s, before the kill: all of it is gone)`,
      `  entities: ${before.ids.size} before (${before.players} players), ${after.ids.size} after (${after.players} players); ` +
        `simulated twice after recovery: ${after.problems.length}${after.problems.length ? ` (${after.problems.slice(0, 3).join('; ')})` : ''}`,
    )
    const roll = summarize(rollbacks)
    return {
      params: {
        bots: botCount, workers: WORKERS.length, victim, seconds, store: 'etcd', lease_ttl_s: leaseTtl, planning_interval_ms: interval,
        report_interval_ms: reportMs, npcs, warmup_s: warmup, heartbeat_timeout_ms: heartbeatTimeoutMs ?? 5000,
        backoff: { ...defaultBackoff }, world: { width: bounds.maxX, height: bounds.maxY, strips: 3 },
      },
      metrics: {
        recover_s: Number.isFinite(recoverMs) ? (recoverMs - killed) / 1000 : Number.NaN,
        bots_lost: lost.length,
        rollback_s: rollbacks.length ? roll.p50 : Number.NaN,
        rollback_s_max: rollbacks.length ? roll.max : Number.NaN,
        bots_on_victim: victims.length,
        bots_respawned: respawned,
        lease_gone_s: s(leaseGoneAt),
        reassigned_s: s(ownedAt),
        detect_s_max: Math.max(...victims.map((t) => s(t.downAt))),
        rejoin_s_max: Math.max(...victims.map((t) => s(t.rejoinedAt))),
        entities_before: before.ids.size,
        entities_after: after.ids.size,
        entities_duplicated: after.problems.length,
      },
      notes,
    }
  } finally {
    process.off('SIGINT', onSignal)
    for (const t of tracks) t.bot.close()
    await cluster.stop()
  }
}

/**
 * Reads every worker in `ids` twice per sample until an entity-by-entity comparison finds nothing
 * moving (see tests/helpers/ownership-audit.ts); returns the distinct entities (simulated or on
 * offer), the simulated players among them, and entities simulated (or on offer) more than once.
 */
async function settledCensus(read: () => Promise<Array<DebugEntities | undefined>>, workerIds: readonly string[]): Promise<{ ids: Set<number>; players: number; problems: string[] }> {
  let last: { ids: Set<number>; players: number; problems: string[] } | undefined
  for (let i = 0; i < 20; i++) {
    const first = await read()
    const second = await read()
    const entities = second.flatMap((d) => d?.partitions ?? []).flatMap((p) => p.entities)
    // Simulated, or out on offer in a handoff (simulated nowhere for that moment, but alive).
    const ids = new Set([...entities.map((e) => e.id), ...second.flatMap((d) => d?.offers ?? []).map((o) => o.entityId)])
    const toRead = (ds: Array<DebugEntities | undefined>): WorkerRead[] => ds.map((d, k) => holdings(workerIds[k] as string, d))
    const v = judgeSample(toRead(first), toRead(second), ids)
    const problems = v.problems.filter((p) => p.includes(' times'))
    last = { ids, players: new Set(entities.filter((e) => e.control === 'player').map((e) => e.id)).size, problems }
    if (v.unsettled === 0) break
    await sleep(100)
  }
  return last as { ids: Set<number>; players: number; problems: string[] }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v))
}

const scenario: Scenario = {
  name: 'failover',
  description: 'kill -9 one of 3 worker processes carrying players: time until every partition is owned and every player has snapshots again',
  run,
}
export default scenario
