/**
 * `joins`: players joining through the gateway all the way to their first snapshot. A real
 * `tessera dev` cluster runs in a child process (in-memory store, coordinator, two workers, the
 * gateway; no bots); this process runs `--bots` players (default 200) with the player library,
 * `--concurrency` of them joining at a time (default 50): `POST /v1/worlds/lobby/join` (over
 * node:http, `nodeHttpFetch`), then the connection to the worker, then join-accepted and the first
 * snapshot holding the player's own entity. Reports joins per second over the whole run and the
 * latency of each join. Metric `e2e_joins_per_s` is the gateway issue's figure (Colyseus: ~210–300
 * joins/s here, over WebSocket). `--transport websocket` joins over the WebSocket fallback instead
 * of WebRTC (the default); `--join create` makes each player create a room of its own
 * (`POST /v1/rooms`: placement, the room's partition started on a worker) and join it.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { TesseraClient } from '../../client/index.ts'
import { installNodeWebRTC, installNodeWebSocket, nodeHttpFetch } from '../../client/polyfill-node.ts'
import type { TransportKind } from '../../client/index.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'

/**
 * CPU time (user + system, all threads) a process has used so far, ms, from `/proc` (Linux);
 * undefined where that cannot be read.
 */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S
  } catch {
    return undefined
  }
}

/** `getconf CLK_TCK` on Linux. */
const CLOCK_TICKS_PER_S = 100

async function startDev(npcs: number): Promise<{ gateway: string; pid: number | undefined; stop: () => Promise<void> }> {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js')
  const child = spawn(process.execPath, [bin, 'dev', '--http-port', '0', '--port', '0', '--gateway-port', '0', '--bots', '0', '--npcs', String(npcs), '--capacity', '800'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise((r) => child.once('exit', r))
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tessera dev not ready in 60 s')), 60_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{"ready"')) return
      clearTimeout(timer)
      resolve(JSON.parse(line) as Record<string, string>)
    })
  })
  return {
    gateway: ready['gateway'] as string,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** One player: join through the gateway, resolve at the first snapshot that holds its own entity. */
/** What each player joins: the lobby world, or a room of its own that it creates (`--join create`). */
type JoinKind = 'world' | 'create'

function joinToFirstSnapshot(gateway: string, playerId: string, transport: TransportKind, kind: JoinKind, clients: TesseraClient[]): Promise<number> {
  const started = performance.now()
  const client = new TesseraClient({ reconnect: false, trackEntities: true, transport })
  clients.push(client)
  return new Promise<number>((resolve, reject) => {
    client.on('snapshot', () => {
      if (client.self !== undefined && client.entity(client.self) !== undefined) resolve(performance.now() - started)
    })
    const target = kind === 'world' ? { world: 'lobby' } : { create: { mode: 'bench', maxPlayers: 4 } }
    client.join({ gateway, playerId, fetch: nodeHttpFetch, ...target }).catch(reject)
  })
}

const scenario: Scenario = {
  name: 'joins',
  description: 'players joining through the gateway to their first snapshot (HTTP + WebRTC or WebSocket + join + snapshot)',
  async run(flags: BenchFlags): Promise<BenchResult> {
    const transport = String(flags.extra['transport'] ?? 'webrtc')
    if (transport !== 'webrtc' && transport !== 'websocket') throw new Error(`--transport must be webrtc or websocket, got ${transport}`)
    installNodeWebRTC()
    installNodeWebSocket()
    const kind = String(flags.extra['join'] ?? 'world')
    if (kind !== 'world' && kind !== 'create') throw new Error(`--join must be world or create, got ${kind}`)
    const total = flags.bots ?? 200
    const concurrency = Number(flags.extra['concurrency'] ?? 50)
    // Every world the demo game simulates starts with `--npcs` walkers: the lobby's 100 keep snapshots
    // flowing; rooms created by `--join create` hold only their creator.
    const dev = await startDev(kind === 'world' ? 100 : 0)
    const clients: TesseraClient[] = []
    const latencies: number[] = []
    let failed = 0
    const failures = new Map<string, number>()
    try {
      let next = 0
      const serverCpuBefore = processCpuMs(dev.pid)
      const clientCpuBefore = process.cpuUsage()
      const started = performance.now()
      const lane = async () => {
        while (next < total) {
          const i = next++
          try {
            latencies.push(await joinToFirstSnapshot(dev.gateway, `joiner-${i}`, transport, kind, clients))
          } catch (err) {
            failed++
            const why = err instanceof Error ? err.message : String(err)
            failures.set(why, (failures.get(why) ?? 0) + 1)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane))
      const seconds = (performance.now() - started) / 1000
      const clientCpu = process.cpuUsage(clientCpuBefore)
      const serverCpuAfter = processCpuMs(dev.pid)
      const s = summarize(latencies)
      // Connection attempts beyond the first (a worker not ready yet answers 503 and the client retries).
      const retries = clients.reduce((n, c) => n + c.stats().reconnects, 0)
      const joined = Math.max(1, latencies.length)
      // CPU per join on each side, including what the players already in keep costing meanwhile
      // (snapshots at 20 Hz to everyone joined so far): the two processes share the machine's cores.
      const cpu: Record<string, number> = { client_cpu_ms_per_join: Math.round(((clientCpu.user + clientCpu.system) / 1000 / joined) * 100) / 100 }
      if (serverCpuBefore !== undefined && serverCpuAfter !== undefined) cpu.server_cpu_ms_per_join = Math.round(((serverCpuAfter - serverCpuBefore) / joined) * 100) / 100
      return {
        params: { bots: total, concurrency, transport, join: kind },
        metrics: {
          e2e_joins_per_s: Math.round((latencies.length / seconds) * 10) / 10,
          e2e_join_ms_p50: Math.round(s.p50),
          e2e_join_ms_p99: Math.round(s.p99),
          joined: latencies.length,
          failed,
          retries,
          ...cpu,
        },
        notes: [
          `${latencies.length} players ${kind === 'world' ? 'joined the lobby' : 'created a room each and joined it'} over ${transport} in ${seconds.toFixed(1)} s, ${concurrency} at a time; ${failed} failed`,
          ...[...failures].map(([why, n]) => `failed ×${n}: ${why}`),
          `CPU per join: players' process ${cpu.client_cpu_ms_per_join} ms, cluster process ${cpu.server_cpu_ms_per_join ?? '?'} ms (over ${seconds.toFixed(1)} s on this machine's cores)`,
        ],
      }
    } finally {
      for (const c of clients) c.close()
      await dev.stop()
    }
  },
}

export default scenario
