/**
 * `handoff`: two workers in this process on one memory store, one world cut in two (p1 on wA, p2
 * on wB), linked over real gRPC on 127.0.0.1. --bots players join wA through in-memory connections
 * (the worker's whole player path except WebRTC) and pace across the border and back, sending one
 * input per tick; --npcs demo walkers stroll across it too. Their entities are handed between the
 * workers; until the client library migrates, players stay connected to wA, which relays.
 *
 * Figures: handoffs; handoff latency (offer sent → acceptance back at the sender); the p99 gap
 * between snapshots a player sees (a tick interval when nothing is missed); inputs sent but never
 * applied; entities lost (the world's count at the end against the start).
 *
 * Where the time goes (lib/handoff-trace.ts): per stage of a handoff, p50 and p99 of
 * queue_to_write (offer queued → written to the stream), offer_wire (→ read by the peer), judge
 * (→ answered), reply_queue (→ reply written), reply_wire (→ read by the sender), take_in (→
 * accepted); for handoffs over 3 ms, the share of their time that overlapped worker ticks or frame
 * handling, garbage collections, and the sender's main thread waiting in the run queue for a CPU
 * (run_queue_ms_*); per process, event-loop delay, collections and tick cost. Up to eight of the
 * slowest handoffs are printed stage by stage.
 *
 * With --processes 2, wB runs in a child process of its own (as workers are deployed), both on a
 * throwaway etcd member (a store two processes can share): the workers then no longer wait for each
 * other's ticks, garbage collections and the players' snapshot decoding on one event loop.
 *
 * With --clients webrtc, the players are the player library itself (`TesseraClient` over geckos.io
 * data channels), in a child process of their own (lib/pacers.ts), so that their WebRTC work takes
 * nothing from the workers' event loop: they open standby connections when told (`prepare`), switch
 * worker at each handoff, and the gap figures are those a game would see, switches included
 * (`standby_switches`, `migrations`). In-memory players (the default) never switch: wA relays them.
 *
 * Flags: --bots (20), --seconds (10, measured after --warmup, 2), --hz (20), extra --npcs (100),
 * --processes (1 or 2), --clients (memory or webrtc), --json.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../../core/log.ts'
import { encodeMap } from '../../core/partition-map.ts'
import { EtcdStore, MemoryStore } from '../../core/store/index.ts'
import type { ClusterStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { exportPrivateKeyPem, exportPublicKeyPem, generateTicketKeys, importPrivateKeyPem, importPublicKeyPem } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { startEtcd } from '../lib/etcd.ts'
import type { EtcdMember } from '../lib/etcd.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { DirectPlayer } from './lib/direct-player.ts'
import { decompose, startProcessTrace } from './lib/handoff-trace.ts'
import type { ProcessTrace } from './lib/handoff-trace.ts'
import { childGroup, localGroup, memoryPacer } from './lib/pacers.ts'
import type { PlayerGroup } from './lib/pacers.ts'
import { ServerChild } from './lib/server-child.ts'
import { sleep } from './lib/ticker.ts'
import { until } from './lib/until.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'

const BOUNDS = { minX: 0, minY: 0, maxX: 64, maxY: 64 }
const BORDER = 32
/** Players turn round this far past the border, beyond the handoff band. */
const REACH = 10
const PREFIX = '/bench-handoff/'

/** What the bench reads from one worker, wherever it runs. */
interface WorkerStats {
  /** Its handoff latencies (offer sent → accepted reply taken in), ms. */
  handoffMs: number[]
  handoffsOut: number
  /** Entities it simulates plus those it holds out on offer. */
  entities: number
  offersOut: number
  /** Players whose entity it simulates (not relays): their last applied input sequence. */
  owners: Record<string, number>
  /** `world:partition` keys it owns. */
  partitions: string[]
}

function statsOf(w: Worker): WorkerStats {
  const owners: Record<string, number> = {}
  const offersOut = w.border.offersOut().length
  let entities = offersOut
  for (const k of w.partitions()) {
    const r = w.runner('w', k.split(':')[1] as string)
    if (!r) continue
    entities += r.sim.entityCount
    for (const e of r.sim.allEntities()) if (e.playerId !== null && !r.sim.isRelay(e.playerId)) owners[e.playerId] = r.sim.lastInputSeq(e.playerId)
  }
  return { handoffMs: [...w.border.stats.handoffMs], handoffsOut: w.border.stats.handoffsOut, entities, offersOut, owners, partitions: w.partitions() }
}

interface ChildParams {
  endpoint: string
  privateKeyPem: string
  publicKeyPem: string
  hz: number
  npcs: number
}
type ToChild = { type: 'stats' } | { type: 'measure' } | { type: 'trace' } | { type: 'stop' }
type FromChild = { type: 'ready' } | { type: 'stats'; stats: WorkerStats } | { type: 'measuring' } | { type: 'trace'; trace: ProcessTrace }

function newWorker(id: string, store: ClusterStore, transport: ClientTransport<TicketClaims>, privateKey: CryptoKey, hz: number, npcs: number): Worker {
  return new Worker({
    store, keys: scopedKeys(PREFIX), transport, logger: silentLogger(), game: () => createDemoGame({}), ticketSigner: { privateKey, kid: 'k' },
    options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs, tickRate: hz, logLevel: 'silent' }),
  })
}


/** The child process of --processes 2: worker wB alone, answering the parent's questions over IPC. */
async function serveWorkerB(p: ChildParams): Promise<void> {
  const send = (msg: FromChild) => process.send?.(msg)
  const trace = startProcessTrace('wB')
  const store = new EtcdStore({ endpoints: [p.endpoint] })
  const publicKey = await importPublicKeyPem(p.publicKeyPem)
  const transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => new Map([['k', publicKey]]), (id) => id === 'wB'),
    logger: silentLogger(),
  })
  const w = newWorker('wB', store, transport, await importPrivateKeyPem(p.privateKeyPem), p.hz, p.npcs)
  await w.start()
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'stats') send({ type: 'stats', stats: statsOf(w) })
    else if (msg.type === 'measure') {
      trace.measure()
      send({ type: 'measuring' })
    } else if (msg.type === 'trace') send({ type: 'trace', trace: trace.collect() })
    else if (msg.type === 'stop') {
      void (async () => {
        await w.stop()
        await transport.close()
        await store.close()
        process.exit(0)
      })()
    }
  })
  process.on('disconnect', () => process.exit(0))
  await until('partition p2', () => w.runner('w', 'p2') !== undefined, 30_000)
  send({ type: 'ready' })
}

async function run(flags: BenchFlags): Promise<BenchResult> {
  const bots = flags.bots ?? 20
  const seconds = flags.seconds ?? 10
  const hz = flags.hz ?? 20
  const npcs = Number(flags.extra['npcs'] ?? 100)
  const processes = Number(flags.extra['processes'] ?? 1)
  const warmup = Number(flags.extra['warmup'] ?? 2)
  const clients = String(flags.extra['clients'] ?? 'memory')
  if (processes !== 1 && processes !== 2) throw new Error('--processes must be 1 or 2')
  if (clients !== 'memory' && clients !== 'webrtc') throw new Error('--clients must be memory or webrtc')
  const keys = scopedKeys(PREFIX)
  // Stage stamps, ticks, collections and event-loop delay (see lib/handoff-trace.ts).
  const trace = startProcessTrace(processes === 2 ? 'wA' : 'both')
  const { publicKey, privateKey } = await generateTicketKeys()
  // Two processes need a store they can both reach.
  const etcd: EtcdMember | undefined = processes === 2 ? await startEtcd() : undefined
  const store: ClusterStore = etcd ? new EtcdStore({ endpoints: [etcd.endpoint] }) : new MemoryStore()
  const transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => new Map([['k', publicKey]]), (id) => id === 'wA' || id === 'wB'),
    logger: silentLogger(),
  })
  const wA = newWorker('wA', store, transport, privateKey, hz, npcs)
  const workers = [wA]
  let child: ServerChild<ToChild, FromChild> | undefined
  let childReady: Promise<unknown> = Promise.resolve()
  /** wB's figures: read here, or asked of its process. */
  let statsB: () => Promise<WorkerStats>
  let traceB: () => Promise<ProcessTrace[]> = () => Promise.resolve([])
  let measureB: () => Promise<unknown> = () => Promise.resolve()
  if (etcd) {
    const params: ChildParams = {
      endpoint: etcd.endpoint, hz, npcs,
      privateKeyPem: await exportPrivateKeyPem(privateKey), publicKeyPem: await exportPublicKeyPem(publicKey),
    }
    const proc = fork(fileURLToPath(import.meta.url), ['serve-wb', JSON.stringify(params)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const c = new ServerChild<ToChild, FromChild>(proc, { type: 'stop' })
    child = c
    // Listened for from the start: the child may be ready before wA is.
    childReady = c.next('ready', 60_000)
    childReady.catch(() => undefined)
    statsB = async () => (await c.ask({ type: 'stats' }, 'stats')).stats
    traceB = async () => [(await c.ask({ type: 'trace' }, 'trace')).trace]
    measureB = () => c.ask({ type: 'measure' }, 'measuring')
  } else {
    const wB = newWorker('wB', store, transport, privateKey, hz, npcs)
    workers.push(wB)
    statsB = () => Promise.resolve(statsOf(wB))
  }
  /**
   * Both workers' figures at one instant: when no offer is out (an entity imported by its receiver
   * but not yet released by its sender would count twice) and wA's count did not move while wB's
   * was read (in another process, that takes a round trip).
   */
  const settled = async (): Promise<[WorkerStats, WorkerStats]> => {
    for (let attempt = 0; ; attempt++) {
      const before = statsOf(wA)
      const b = await statsB()
      const a = statsOf(wA)
      if ((a.offersOut === 0 && b.offersOut === 0 && a.entities === before.entities) || attempt >= 200) return [a, b]
      await sleep(5)
    }
  }
  let group: PlayerGroup | undefined
  try {
    for (const w of workers) await w.start()
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await store.put(keys.worldMap('w'), encodeMap({
      worldId: 'w', bounds: BOUNDS, version: 1, nextId: 3,
      root: {
        kind: 'split', id: 'p0', axis: 'x', at: BORDER,
        low: { kind: 'leaf', id: 'p1', owner: 'wA', epoch: 1 },
        high: { kind: 'leaf', id: 'p2', owner: 'wB', epoch: 1 },
      },
    }))
    await childReady
    await until('partitions and link', async () => wA.runner('w', 'p1') !== undefined && (await statsB()).partitions.includes('w:p2') && wA.links.connected().includes('wB'))
    const pace = { hz, border: BORDER, reach: REACH }
    if (clients === 'webrtc') {
      group = await childGroup({ ...pace, url: wA.addresses.clientUrl, privateKeyPem: await exportPrivateKeyPem(privateKey), bots })
    } else {
      const p1 = wA.runner('w', 'p1')
      const players = Array.from({ length: bots }, (_, i) => {
        // They never switch worker: told so, the worker sends them no `prepare` and holds no crossing of theirs.
        const p = new DirectPlayer({ playerId: `bot${i}`, worldId: 'w', workerId: 'wA', partitionId: 'p1' }, { noStandby: true })
        p1?.addPlayer(p.conn)
        return memoryPacer(p)
      })
      group = localGroup(players, pace)
    }
    await group.firstSnapshots(10_000)
    const entitiesAtStart = (await settled()).reduce((n, st) => n + st.entities, 0)
    // The first handoffs of a fresh process compile their code path (V8 compiles a function on its
    // first call): 3–9 ms each, once per process lifetime. They are reported on their own; the
    // measured handoffs are those of the `seconds` after the warm-up.
    await sleep(warmup * 1000)
    const skipA = statsOf(wA).handoffMs.length
    const skipB = (await statsB()).handoffMs.length
    const measureFrom = performance.now()
    trace.measure()
    await Promise.all([measureB(), group.measure()])
    await sleep(seconds * 1000)
    await group.halt()
    // Let the last inputs and offers land.
    await sleep(500)
    const reports = await group.reports()
    const gaps = reports.flatMap((r) => r.gaps)
    const [endA, endB] = await settled()
    let inputsLost = 0
    for (const r of reports) inputsLost += Math.max(0, r.sent - (endA.owners[r.playerId] ?? endB.owners[r.playerId] ?? 0))
    const latency = summarize([...endA.handoffMs.slice(skipA), ...endB.handoffMs.slice(skipB)])
    const cold = summarize([...endA.handoffMs.slice(0, skipA), ...endB.handoffMs.slice(0, skipB)])
    const gap = summarize(gaps)
    const stages = decompose([trace.collect(), ...(await traceB())], performance.timeOrigin + measureFrom)
    return {
      params: {
        bots, seconds, warmup, hz, npcs, store: etcd ? 'etcd' : 'memory', workers: 2, processes, clients,
        transport: `${clients === 'webrtc' ? 'player library over geckos.io' : 'in-memory player connections'}, gRPC between workers`,
      },
      metrics: {
        handoffs: endA.handoffsOut + endB.handoffsOut,
        measured_handoffs: endA.handoffMs.length - skipA + endB.handoffMs.length - skipB,
        warmup_handoffs: skipA + skipB,
        warmup_handoff_ms_max: skipA + skipB > 0 ? cold.max : 0,
        handoff_ms_p50: latency.p50,
        handoff_ms_p99: latency.p99,
        gap_ms_p99: gap.p99,
        tick_ms: 1000 / hz,
        inputs_lost: inputsLost,
        entities_lost: entitiesAtStart - endA.entities - endB.entities,
        migrations: reports.reduce((n, r) => n + r.migrations, 0),
        standby_switches: reports.reduce((n, r) => n + r.standbySwitches, 0),
        // Where the handoff time goes, stage by stage (handoffs made while measuring).
        ...stages.metrics,
      },
      notes: [`longest snapshot gap ${gap.max.toFixed(1)} ms; players ordered to move by migrate ${reports.filter((r) => r.orderedToMove).length} of ${bots}`, ...stages.notes],
    }
  } finally {
    trace.stop()
    await group?.close()
    for (const w of workers) await w.stop()
    await child?.stop()
    await transport.close()
    await store.close()
    await etcd?.stop()
  }
}

const scenario: Scenario = {
  name: 'handoff',
  description: 'players and walkers crossing a border between two workers: handoff latency, snapshot gaps, inputs and entities lost',
  run,
}
export default scenario

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'serve-wb') {
  serveWorkerB(JSON.parse(process.argv[3] ?? '{}') as ChildParams).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
