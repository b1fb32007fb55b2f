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
 * Flags: --bots (20), --seconds (10), --hz (20), extra --npcs (100), --json.
 */
import { silentLogger } from '../../core/log.ts'
import { encodeMap } from '../../core/partition-map.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { DirectPlayer } from './lib/direct-player.ts'
import { sleep, startTicker } from './lib/ticker.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'

const BOUNDS = { minX: 0, minY: 0, maxX: 64, maxY: 64 }
const BORDER = 32
/** Players turn round this far past the border, beyond the handoff band. */
const REACH = 10

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

async function run(flags: BenchFlags): Promise<BenchResult> {
  const bots = flags.bots ?? 20
  const seconds = flags.seconds ?? 10
  const hz = flags.hz ?? 20
  const npcs = Number(flags.extra['npcs'] ?? 100)
  const store = new MemoryStore()
  const keys = scopedKeys('/bench-handoff/')
  const { publicKey, privateKey } = await generateTicketKeys()
  const transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => new Map([['k', publicKey]]), (id) => id === 'wA' || id === 'wB'),
    logger: silentLogger(),
  })
  const workers = ['wA', 'wB'].map(
    (id) =>
      new Worker({
        store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}), ticketSigner: { privateKey, kid: 'k' },
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs, tickRate: hz, logLevel: 'silent' }),
      }),
  )
  const [wA, wB] = workers as [Worker, Worker]
  const players: DirectPlayer[] = []
  let stopTicker = () => undefined as void
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
    await until('partitions and link', () => wA.runner('w', 'p1') !== undefined && wB.runner('w', 'p2') !== undefined && wA.links.connected().includes('wB'))
    const p1 = wA.runner('w', 'p1')
    for (let i = 0; i < bots; i++) {
      const p = new DirectPlayer({ playerId: `bot${i}`, worldId: 'w', workerId: 'wA', partitionId: 'p1' })
      p1?.addPlayer(p.conn)
      players.push(p)
    }
    const worldEntities = () =>
      workers.reduce((n, w) => n + w.border.offersOut().length + [...w.partitions()].reduce((m, k) => {
        const [world, part] = k.split(':') as [string, string]
        return m + (w.runner(world, part)?.sim.entityCount ?? 0)
      }, 0), 0)
    await until('first snapshots', () => players.every((p) => p.snapshots > 0))
    const entitiesAtStart = worldEntities()
    const direction = players.map(() => 1)
    const measureFrom = performance.now()
    stopTicker = startTicker(hz, () => {
      players.forEach((p, i) => {
        const me = p.joinedEntity === undefined ? undefined : p.receiver.entity(p.joinedEntity)
        const x = me ? me.x / 16 : BORDER
        if (x > BORDER + REACH) direction[i] = -1
        if (x < BORDER - REACH) direction[i] = 1
        p.walk(direction[i] ?? 1)
      })
    })
    await sleep(seconds * 1000)
    stopTicker()
    // Let the last inputs and offers land.
    await sleep(500)
    const gaps: number[] = []
    for (const p of players) {
      const times = p.arrivals.filter((t) => t >= measureFrom)
      for (let i = 1; i < times.length; i++) gaps.push((times[i] as number) - (times[i - 1] as number))
    }
    let inputsLost = 0
    for (const p of players) {
      const owner = workers.flatMap((w) => w.partitions().map((k) => w.runner('w', k.split(':')[1] as string))).find((r) => r?.sim.playerEntity(p.conn.principal.playerId) !== undefined && !r.sim.isRelay(p.conn.principal.playerId))
      inputsLost += Math.max(0, p.seq - (owner?.sim.lastInputSeq(p.conn.principal.playerId) ?? 0))
    }
    const latency = summarize([...wA.border.stats.handoffMs, ...wB.border.stats.handoffMs])
    const gap = summarize(gaps)
    return {
      params: { bots, seconds, hz, npcs, store: 'memory', workers: 2, transport: 'in-memory player connections, gRPC between workers' },
      metrics: {
        handoffs: wA.border.stats.handoffsOut + wB.border.stats.handoffsOut,
        handoff_ms_p50: latency.p50,
        handoff_ms_p99: latency.p99,
        gap_ms_p99: gap.p99,
        tick_ms: 1000 / hz,
        inputs_lost: inputsLost,
        entities_lost: entitiesAtStart - worldEntities(),
      },
      notes: [`longest snapshot gap ${gap.max.toFixed(1)} ms; migrate messages sent ${players.filter((p) => p.control.some((m) => m.kind === 'migrate')).length} of ${bots} players`],
    }
  } finally {
    stopTicker()
    for (const p of players) p.close()
    for (const w of workers) await w.stop()
    await transport.close()
    await store.close()
  }
}

const scenario: Scenario = {
  name: 'handoff',
  description: 'players and walkers crossing a border between two workers: handoff latency, snapshot gaps, inputs and entities lost',
  run,
}
export default scenario
