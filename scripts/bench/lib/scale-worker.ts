/**
 * One worker process of the `world-scale` benchmark: a real `Worker` on the shared etcd, its own
 * client transport for the WebRTC probe bots, and `LightPlayer`s in the process as the load. The
 * bench process drives it over IPC: how many light players, measured windows (CPU of this process,
 * tick durations, snapshots received), stop.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Rect } from '../../../core/geometry.ts'
import { percentile } from '../scenario.ts'
import { LightPlayer } from './light-player.ts'
import { startTicker } from './ticker.ts'
import { TickTracer, timeLateness } from './tick-trace.ts'
import { MeasuredWindow, timeTicks, windowProfiler } from './window.ts'

export interface ScaleWorkerParams {
  id: string
  etcd: string
  prefix: string
  worldId: string
  partitionId: string
  /** Where this worker's light players stay. */
  area: Rect
  hz: number
  radius: number
  publicKeyPem: string
  kid: string
  seed: number
  /** Write a CPU profile (main thread) of every measured window into this directory. */
  profileDir?: string
  /** Write a per-tick trace (`TickTracer`) of every measured window into this directory. */
  traceDir?: string
}

export interface WindowStats {
  cpuUs: number
  wallMs: number
  ticks: number
  tickMsP99: number
  tickMsMean: number
  /** How long after its due time each tick ended, p99 (ms): lateness to start plus duration. */
  lateMsP99: number
  /** Light players during the window and the snapshots they received in it. */
  players: number
  snapshots: number
  /** Entities this worker simulated at the end of the window. */
  entities: number
  droppedTicks: number
}

export type ToScaleWorker = { type: 'players'; count: number } | { type: 'begin' } | { type: 'end' } | { type: 'stop' }
export type FromScaleWorker =
  | { type: 'ready'; clientUrl: string }
  | { type: 'running' }
  | { type: 'players-set'; count: number }
  | { type: 'begun' }
  | ({ type: 'ended' } & WindowStats)

function writeTrace(dir: string, name: string, trace: unknown): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(`${dir}/${name}.json`, JSON.stringify(trace))
}

async function serve(p: ScaleWorkerParams): Promise<void> {
  const send = (msg: FromScaleWorker): void => {
    process.send?.(msg)
  }
  const [{ ClientTransport }, { Worker }, { workerOptions }, { ticketAdmission }, { createDemoGame }, { EtcdStore }, { scopedKeys }, { importPublicKeyPem }, { silentLogger }] =
    await Promise.all([
      import('../../../worker/transport/geckos-server.ts'), import('../../../worker/worker.ts'), import('../../../worker/options.ts'),
      import('../../../worker/ticket-admission.ts'), import('../../../worker/game/demo.ts'), import('../../../core/store/index.ts'),
      import('../../../core/store/keys.ts'), import('../../../core/tickets.ts'), import('../../../core/log.ts'),
    ])
  const publicKey = await importPublicKeyPem(p.publicKeyPem)
  const transport = await ClientTransport.start({
    authorize: ticketAdmission(() => new Map([[p.kid, publicKey]]), (id) => id === p.id),
    // Probe bots send an input or ack per tick, a ping a second and control acks.
    limits: { maxMessagesPerSecond: p.hz * 2 + 20, burst: p.hz * 2 + 20 },
  })
  const store = new EtcdStore({ endpoints: [p.etcd] })
  const worker = new Worker({
    store, keys: scopedKeys(p.prefix), transport, logger: silentLogger(), game: () => createDemoGame({}),
    options: workerOptions({ id: p.id, port: 0, grpcPort: 0, opsPort: 0, interestRadius: p.radius, tickRate: p.hz, seed: p.seed, logLevel: 'silent' }),
  })
  await worker.start()
  send({ type: 'ready', clientUrl: worker.addresses.clientUrl })
  while (!worker.runner(p.worldId, p.partitionId)) await new Promise((r) => setTimeout(r, 20))
  const runner = worker.runner(p.worldId, p.partitionId)
  if (!runner) throw new Error('partition not started')
  send({ type: 'running' })

  const tickMs = timeTicks(runner)
  const loop = (worker as unknown as { loop: { overrun: { droppedTicks: number } } }).loop
  const overrun = (): number => loop.overrun.droppedTicks
  const lateMs = timeLateness(loop)
  const tracer = p.traceDir ? new TickTracer(loop, runner) : undefined

  const players: LightPlayer[] = []
  let made = 0
  // One input per player per tick, all at once, as a tick's worth of client packets arriving.
  const inputs = (): void => {
    for (const pl of players) {
      const id = runner.sim.playerEntity(pl.conn.principal.playerId)
      pl.step(id === undefined ? undefined : runner.sim.entity(id))
    }
  }
  const stopInputs = startTicker(p.hz, tracer ? () => tracer.timeInputs(inputs) : inputs)
  const setPlayers = (count: number): void => {
    while (players.length > count) players.pop()?.close()
    while (players.length < count) {
      const n = made++
      const pl = new LightPlayer({ playerId: `${p.id}-light-${n}`, worldId: p.worldId, workerId: p.id, partitionId: p.partitionId }, p.area, p.seed * 100_003 + n)
      runner.addPlayer(pl.conn)
      players.push(pl)
    }
  }

  const profiler = p.profileDir ? await windowProfiler(p.profileDir) : undefined
  const window = new MeasuredWindow()
  let tickStart = 0
  let droppedStart = 0
  process.on('message', (msg: ToScaleWorker) => {
    if (msg.type === 'players') {
      setPlayers(msg.count)
      send({ type: 'players-set', count: players.length })
    } else if (msg.type === 'begin') {
      tickMs.length = 0
      lateMs.length = 0
      for (const pl of players) pl.snapshots = 0
      tickStart = runner.sim.tick
      droppedStart = overrun()
      profiler?.start()
      tracer?.begin()
      window.begin()
      send({ type: 'begun' })
    } else if (msg.type === 'end') {
      const { cpuUs, wallMs } = window.end()
      profiler?.stop(`${p.id}-${players.length}`)
      if (tracer && p.traceDir) writeTrace(p.traceDir, `${p.id}-${players.length}`, tracer.end())
      const sorted = [...tickMs].sort((a, b) => a - b)
      send({
        type: 'ended', cpuUs, wallMs, ticks: runner.sim.tick - tickStart,
        tickMsP99: percentile(sorted, 99), lateMsP99: percentile([...lateMs].sort((a, b) => a - b), 99), tickMsMean: sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length),
        players: players.length, snapshots: players.reduce((s, pl) => s + pl.snapshots, 0),
        entities: runner.sim.entityCount, droppedTicks: overrun() - droppedStart,
      })
    } else {
      stopInputs()
      tracer?.close()
      setPlayers(0)
      void (async () => {
        await worker.stop()
        await transport.close()
        await store.close()
      })().finally(() => process.exit(0))
    }
  })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  serve(JSON.parse(process.argv[2] ?? '{}') as ScaleWorkerParams).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
