/**
 * `sync`: one world (a single partition), one worker in a child process (its CPU measured alone with
 * process.cpuUsage over the measured window), N bots here walking and sending inputs at --hz through
 * the player library. The `transport` scenario runs first in the same run, with as many bots, to
 * give the floor this is compared with.
 *
 * A client-tick is one input in and one snapshot out, i.e. two transport messages: the CPU target
 * (≤ 1.2× the floor) is checked against 2 × `transport_cpu_us_per_msg`, and `cpu_ratio_to_transport`
 * is `cpu_us_per_client_tick / (2 × transport_cpu_us_per_msg)`.
 *
 * Flags: --bots (100), --seconds (9, split into --rounds 3), --hz (20), --radius (100), --all-visible
 * (the radius covers the world), --size (world side, default 1000), --batch (25 joins at a time),
 * --transport-seconds (6; 0 skips the floor), --spread true (bots tick independently instead of
 * together, as the floor's bots do), --cpu-prof DIR (main-thread profiles of the windows), --json.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { percentile, summarize } from './scenario.ts'
import { ServerChild } from './lib/server-child.ts'
import { sleep } from './lib/ticker.ts'
import { MeasuredWindow, timeTicks, windowProfiler } from './lib/window.ts'

const WORLD = 'bench'
const WORKER = 'w1'
const KID = 'bench'

interface ServeParams {
  /** Write a CPU profile of each measured window (main thread) into this directory. */
  profileDir?: string
  radius: number
  size: number
  hz: number
  publicKeyPem: string
}

interface WindowStats {
  cpuUs: number
  wallMs: number
  /** Ticks simulated in the window: firstTick..lastTick. */
  firstTick: number
  lastTick: number
  players: number
  tickMsP99: number
  tickMsMean: number
  /** Every tick's duration in the window, ms. */
  tickMs: number[]
  snapshotBytes: number
  overruns: number
  rssKb: number
  /** Datagrams the server's transport received and sent in the window (transport frames included). */
  msgsIn: number
  msgsOut: number
  /** The partition's input counters since it started. */
  inputs: { applied: number; lost: number; dropped: number; duplicates: number }
}

type ToChild = { type: 'begin' } | { type: 'end' } | { type: 'stop' }
type FromChild =
  | { type: 'ready'; clientUrl: string; rssKb: number }
  | { type: 'begun' }
  | ({ type: 'ended' } & WindowStats)

// ---------------------------------------------------------------- worker child

async function serve(params: ServeParams): Promise<void> {
  const send = (msg: FromChild): void => {
    process.send?.(msg)
  }
  const [{ ClientTransport }, { Worker }, { workerOptions }, { ticketAdmission }, { createDemoGame }, { MemoryStore }, { scopedKeys }, { createMap, encodeMap }, { importPublicKeyPem }, { silentLogger }] =
    await Promise.all([
      import('../../worker/transport/geckos-server.ts'), import('../../worker/worker.ts'), import('../../worker/options.ts'),
      import('../../worker/ticket-admission.ts'), import('../../worker/game/demo.ts'), import('../../core/store/index.ts'),
      import('../../core/store/keys.ts'), import('../../core/partition-map.ts'), import('../../core/tickets.ts'), import('../../core/log.ts'),
    ])
  const publicKey = await importPublicKeyPem(params.publicKeyPem)
  const transport = await ClientTransport.start({
    authorize: ticketAdmission(() => new Map([[KID, publicKey]]), (id) => id === WORKER),
    // Bots send an input or ack per tick, a ping a second and control acks: keep the limiter out of the way.
    limits: { maxMessagesPerSecond: params.hz * 2 + 20, burst: params.hz * 2 + 20 },
  })
  const store = new MemoryStore()
  const keys = scopedKeys('/bench/')
  const worker = new Worker({
    store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}),
    options: workerOptions({ id: WORKER, port: 0, grpcPort: 0, opsPort: 0, interestRadius: params.radius, logLevel: 'silent' }),
  })
  await worker.start()
  const bounds = { minX: 0, minY: 0, maxX: params.size, maxY: params.size }
  await store.put(keys.world(WORLD), JSON.stringify({ id: WORLD, kind: 'world', bounds, labels: {}, createdAt: Date.now() }))
  await store.put(keys.worldMap(WORLD), encodeMap({ ...createMap(WORLD, bounds, WORKER), root: { kind: 'leaf', id: 'p0', owner: WORKER, epoch: 1 } }))
  while (!worker.runner(WORLD, 'p0')) await sleep(20)
  const runner = worker.runner(WORLD, 'p0')
  if (!runner) throw new Error('partition not started')

  const tickMs = timeTicks(runner)
  const profiler = params.profileDir ? await windowProfiler(params.profileDir) : undefined
  let profiles = 0
  const window = new MeasuredWindow()
  let tickStart = 0
  let bytesStart = 0
  let overrunsStart = 0
  let msgsInStart = 0
  let msgsOutStart = 0
  const overruns = (): number => Number((worker as unknown as { loop: { overrun: { droppedTicks: number } } }).loop.overrun.droppedTicks)
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'begin') {
      tickStart = runner.sim.tick
      bytesStart = runner.sim.stats().bytesTotal
      overrunsStart = overruns()
      msgsInStart = transport.stats.messagesIn
      msgsOutStart = transport.stats.messagesOut
      tickMs.length = 0
      profiler?.start()
      window.begin()
      send({ type: 'begun' })
    } else if (msg.type === 'end') {
      const { cpuUs, wallMs } = window.end()
      profiler?.stop(`sync-window-${++profiles}`)
      const stats = runner.sim.stats()
      const sorted = [...tickMs].sort((a, b) => a - b)
      send({
        type: 'ended', cpuUs, wallMs, firstTick: tickStart + 1, lastTick: runner.sim.tick, players: runner.players,
        tickMsP99: percentile(sorted, 99), tickMsMean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), tickMs: sorted,
        snapshotBytes: stats.bytesTotal - bytesStart,
        overruns: overruns() - overrunsStart, rssKb: Math.round(process.memoryUsage.rss() / 1024), inputs: stats.inputs,
        msgsIn: transport.stats.messagesIn - msgsInStart, msgsOut: transport.stats.messagesOut - msgsOutStart,
      })
    } else if (msg.type === 'stop') {
      void (async () => {
        await worker.stop()
        await transport.close()
        await store.close()
      })().finally(() => process.exit(0))
    }
  })
  send({ type: 'ready', clientUrl: worker.addresses.clientUrl, rssKb: Math.round(process.memoryUsage.rss() / 1024) })
}

// ---------------------------------------------------------------- bench process

async function run(flags: BenchFlags): Promise<BenchResult> {
  const bots = flags.bots ?? 100
  const seconds = flags.seconds ?? 9
  const hz = flags.hz ?? 20
  const size = Number(flags.extra['size'] ?? 1000)
  const radius = flags.allVisible ? size * 2 : (flags.radius ?? 100)
  const rounds = Math.min(50, Math.max(1, Number(flags.extra['rounds'] ?? 3)))
  const batch = Math.max(1, Number(flags.extra['batch'] ?? 25))
  const transportSeconds = Number(flags.extra['transport-seconds'] ?? 6)
  // `--spread true`: bots tick independently instead of together (the transport floor's bots send together).
  const spread = flags.extra['spread'] === 'true'

  // The floor first, same bots, same rate, its own server process.
  let floor = Number.NaN
  let floorNote = 'transport floor skipped'
  if (transportSeconds > 0) {
    const { default: transport } = await import('./transport.ts')
    // A loaded machine sometimes times a bare connect out (15 s): one more try, then go on without.
    for (let attempt = 1; attempt <= 2 && Number.isNaN(floor); attempt++) {
      try {
        const t = await transport.run({ ...flags, bots, hz, seconds: transportSeconds, json: false, extra: { rounds: '2', batch: String(batch) } })
        floor = t.metrics['cpu_us_per_msg'] ?? Number.NaN
        floorNote = `transport floor: ${floor.toFixed(1)} µs/msg (${bots} bots, ${transportSeconds} s), delivered ${(t.metrics['delivered_ratio'] ?? 0).toFixed(4)}`
      } catch (err) {
        floorNote = `transport floor failed: ${err instanceof Error ? err.message : String(err)}`
      }
    }
  }

  const { generateTicketKeys, exportPublicKeyPem, issueTicket } = await import('../../core/tickets.ts')
  const { runBots } = await import('../bots/run.ts')
  const { privateKey, publicKey } = await generateTicketKeys()
  const params: ServeParams = {
    radius, size, hz, publicKeyPem: await exportPublicKeyPem(publicKey),
    ...(flags.extra['cpu-prof'] ? { profileDir: flags.extra['cpu-prof'] } : {}),
  }
  const proc = fork(fileURLToPath(import.meta.url), ['serve', JSON.stringify(params)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const server = new ServerChild<ToChild, FromChild>(proc, { type: 'stop' })
  let swarm: Awaited<ReturnType<typeof runBots>> | undefined
  try {
    const ready = await server.next('ready', 30_000)
    const connectStart = performance.now()
    swarm = await runBots({
      count: bots, hz, batch, behaviour: 'wander', alignTicks: !spread,
      join: async (i) => ({
        url: ready.clientUrl,
        ticket: await issueTicket(privateKey, { playerId: `bot-${i}`, worldId: WORLD, workerId: WORKER, partitionId: 'p0', kid: KID, ttlSeconds: 600 }),
      }),
    })
    const connectSeconds = (performance.now() - connectStart) / 1000
    // Snapshots received, by the tick they carry: a window's delivery is counted by its server ticks exactly.
    const receivedByTick = new Map<number, number>()
    for (const bot of swarm.bots) bot.client.on('snapshot', ({ tick }) => receivedByTick.set(tick, (receivedByTick.get(tick) ?? 0) + 1))
    // Steady state before measuring: every bot has a baseline, inputs flow.
    await sleep(1500)
    swarm.resetGaps()

    const perRound: Array<WindowStats & { ticks: number; received: number; bytesIn: number }> = []
    for (let r = 0; r < rounds; r++) {
      await server.ask({ type: 'begin' }, 'begun')
      const before = swarm.report()
      await sleep((seconds * 1000) / rounds)
      const end = await server.ask({ type: 'end' }, 'ended')
      const after = swarm.report()
      // Late snapshots of the window's last ticks still count as delivered.
      await sleep(200)
      let received = 0
      for (let t = end.firstTick; t <= end.lastTick; t++) received += receivedByTick.get(t) ?? 0
      perRound.push({ ...end, ticks: end.lastTick - end.firstTick + 1, received, bytesIn: after.bytesIn - before.bytesIn })
    }
    const final = await swarm.stop()
    swarm = undefined

    const cpuPerClientTick = summarize(perRound.map((r) => r.cpuUs / Math.max(1, r.players * r.ticks)))
    const bytesDown = summarize(perRound.map((r) => r.bytesIn / Math.max(1, r.players) / (r.wallMs / 1000)))
    const cpuPct = summarize(perRound.map((r) => (r.cpuUs / 1000 / r.wallMs) * 100))
    const received = perRound.reduce((s, r) => s + r.received, 0)
    const expected = perRound.reduce((s, r) => s + r.ticks * r.players, 0)
    const last = perRound.at(-1)
    const inputs = last?.inputs
    const players = last?.players ?? bots
    const snapshotsSent = perRound.reduce((s, r) => s + r.ticks * r.players, 0)
    return {
      params: { bots, seconds, hz, radius, size, all_visible: flags.allVisible, spread, rounds, batch, transport_seconds: transportSeconds },
      metrics: {
        cpu_us_per_client_tick: cpuPerClientTick.p50,
        transport_cpu_us_per_msg: floor,
        cpu_ratio_to_transport: cpuPerClientTick.p50 / (2 * floor),
        bytes_down_per_client_s: bytesDown.p50,
        tick_ms_p99: percentile(perRound.flatMap((r) => r.tickMs).sort((a, b) => a - b), 99),
        delivered_ratio: received / Math.max(1, expected),
        rss_kb_per_client: ((last?.rssKb ?? ready.rssKb) - ready.rssKb) / Math.max(1, players),
        tick_ms_mean: summarize(perRound.map((r) => r.tickMsMean)).p50,
        server_cpu_pct: cpuPct.p50,
        snapshot_bytes_avg: perRound.reduce((s, r) => s + r.snapshotBytes, 0) / Math.max(1, snapshotsSent),
        msgs_per_client_tick: perRound.reduce((s, r) => s + r.msgsIn + r.msgsOut, 0) / Math.max(1, expected),
        cpu_us_per_msg: summarize(perRound.map((r) => r.cpuUs / Math.max(1, r.msgsIn + r.msgsOut))).p50,
        tick_overruns: perRound.reduce((s, r) => s + r.overruns, 0),
        players,
        connect_all_s: connectSeconds,
        bots_ok: final.ok ? 1 : 0,
        bot_unacked_inputs: final.unacked,
        bot_ack_regressions: final.ackRegressions,
        bot_max_snapshot_gap_ms: final.maxSnapshotGapMs,
        inputs_lost: inputs?.lost ?? Number.NaN,
      },
      notes: [
        floorNote,
        'a client-tick is one input in + one snapshot out: cpu_ratio_to_transport = cpu_us_per_client_tick / (2 × transport_cpu_us_per_msg); target ≤ 1.2',
        ...perRound.map(
          (r, i) =>
            `round ${i + 1}: ${(r.cpuUs / Math.max(1, r.players * r.ticks)).toFixed(1)} µs/client-tick, ${((r.cpuUs / 1000 / r.wallMs) * 100).toFixed(1)}% of a core, ` +
            `${r.ticks} ticks × ${r.players} players, ${r.received} snapshots received, ${(r.bytesIn / Math.max(1, r.players) / (r.wallMs / 1000)).toFixed(0)} B/s down per client, tick p99 ${r.tickMsP99.toFixed(2)} ms`,
        ),
        `bots: ${final.ok ? 'all checks passed' : 'CHECKS FAILED'} (joined ${final.joined}/${final.bots}, unacked ${final.unacked}, ack regressions ${final.ackRegressions}, silent ${final.silentBots}, bad snapshots ${final.badSnapshots}, reconnects ${final.reconnects})`,
      ],
    }
  } finally {
    if (swarm) await swarm.stop(0)
    await server.stop()
  }
}

const scenario: Scenario = {
  name: 'sync',
  description: 'one world, one worker process, N bots walking and sending inputs; CPU per client-tick vs the transport floor',
  run,
}
export default scenario

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'serve') {
  serve(JSON.parse(process.argv[3] ?? '{}') as ServeParams).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
