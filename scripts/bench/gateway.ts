/**
 * `gateway`: one gateway process's HTTP API on the memory store and on a throwaway etcd member, with a
 * real coordinator and two minimal workers. Measures create → joinable latency (sequential creates:
 * the answer means the room is placed, open and the creator's seat reserved), join by id and world
 * join throughput and latency under many concurrent keep-alive requests.
 *
 * The load comes from a worker thread (its own event loop and core) with a `node:http` keep-alive
 * agent, so the gateway's event loop serves requests only.
 *
 * Flags: `--seconds S` (each throughput phase, default 3), `--store memory|etcd` (where join and
 * world join are measured; create is measured on both), extra `--concurrency C` (default 64),
 * `--creates N` (default 300), `--rooms R` (default 800), `--seats K` (default 32), `--stores memory,etcd`, `--phases create,join,world`.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import { silentLogger } from '../../core/log.ts'
import { createMap, encodeMap } from '../../core/partition-map.ts'
import { EtcdStore, MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { Keys } from '../../core/store/keys.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { Gateway } from '../../gateway/gateway.ts'
import { gatewayOptions } from '../../gateway/options.ts'
import { startEtcd } from '../lib/etcd.ts'
import type { EtcdMember } from '../lib/etcd.ts'
import { MinimalWorker } from '../../tests/helpers/minimal-worker.ts'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'
import { until } from './lib/until.ts'

/**
 * The load generator, run as a child process (its own core, and the gateway process's CPU time
 * then counts the gateway alone): `concurrency` loops of keep-alive requests. Request `i` goes to
 * `paths[i % paths.length]` with `bodies[i % bodies.length]` as player `${prefix}${i}`.
 */
const CLIENT = `
const http = require('node:http')
const spec = JSON.parse(process.argv[1])
const { url, paths, bodies, prefix, total, concurrency, seconds } = spec
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
const target = new URL(url)
const latencies = []
const statuses = {}
let next = 0
const deadline = seconds > 0 ? performance.now() + seconds * 1000 : Infinity
function one(i) {
  const body = bodies[i % bodies.length]
  return new Promise((resolve) => {
    const started = performance.now()
    const r = http.request({ agent, host: target.hostname, port: target.port, method: 'POST', path: paths[i % paths.length],
      headers: { 'x-player-id': prefix + i, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => {
        latencies.push(performance.now() - started)
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1
        resolve()
      })
    })
    r.on('error', () => { statuses.error = (statuses.error || 0) + 1; resolve() })
    r.end(body)
  })
}
async function loop() {
  while (next < total && performance.now() < deadline) await one(next++)
}
const started = performance.now()
Promise.all(Array.from({ length: concurrency }, loop)).then(() => {
  agent.destroy()
  process.stdout.write(JSON.stringify({ latencies, statuses, ms: performance.now() - started }))
})
`

interface Load {
  latencies: number[]
  statuses: Record<string, number>
  ms: number
}

interface LoadSpec {
  paths: string[]
  bodies: string[]
  prefix: string
  total: number
  concurrency: number
  /** Stop after this long; 0: when all `total` requests are done. */
  seconds: number
}

function runLoad(url: string, spec: LoadSpec): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, JSON.stringify({ url, ...spec })], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => (out += d))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`load client exited with ${code}`))))
  })
}

interface Throughput {
  p50: number
  p99: number
  rps: number
  failed: number
  /** CPU time of the gateway's process per request, µs. */
  cpuUsPerRequest: number
  /** CPU time of its main thread (the event loop) per request, µs; undefined off Linux. */
  loopCpuUsPerRequest: number | undefined
  utilization: number
}

/**
 * CPU time of this process's main thread so far, µs, from `/proc` (Linux only; undefined
 * elsewhere). `process.cpuUsage` counts every thread, including libuv's pool where tickets are
 * signed and V8's garbage-collection helpers; the event loop's share is what bounds one process.
 */
function mainThreadCpuUs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in ticks of 10 ms.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return undefined
  }
}

interface Cluster {
  gateway: Gateway
  keys: Keys
  store: ClusterStore
  stop(): Promise<void>
}

async function cluster(kind: 'memory' | 'etcd', etcd: EtcdMember | undefined): Promise<Cluster> {
  const stores: ClusterStore[] = []
  const shared = kind === 'memory' ? new MemoryStore() : undefined
  const store = (): ClusterStore => {
    if (shared) return shared
    const s = new EtcdStore({ endpoints: [(etcd as EtcdMember).endpoint] })
    stores.push(s)
    return s
  }
  const keys = scopedKeys(`/bench-gateway-${kind}/`)
  const coordinator = new Coordinator(store(), keys, coordinatorOptions({ id: 'c1', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: 1000, logLevel: 'silent' }), silentLogger())
  await coordinator.start()
  const workers = ['w1', 'w2'].map((id) => new MinimalWorker(store(), keys, { id, capacity: 1_000_000, ttlSeconds: 5, reportIntervalMs: 1000 }))
  for (const w of workers) await w.start()
  const gatewayStore = store()
  const gateway = new Gateway(gatewayStore, keys, gatewayOptions({
    id: 'g1', port: 0, rateLimitMax: 10_000_000, rateLimitWindowMs: 1_000, logLevel: 'silent', seatReservationMs: 600_000,
  }), silentLogger())
  await gateway.start()
  await until('the cluster: a leader and both workers', () => coordinator.isLeader && coordinator.view.workers.size === 2, 15_000)
  return {
    gateway, keys, store: gatewayStore,
    stop: async () => {
      await gateway.stop()
      for (const w of workers) await w.stop()
      await coordinator.stop()
      for (const s of stores) await s.close()
      await shared?.close()
    },
  }
}

const ok = (load: Load, status: number) => load.statuses[String(status)] ?? 0

async function measureCreates(c: Cluster, n: number): Promise<{ p50: number; p99: number; rps: number; failed: number }> {
  const spec = { paths: ['/v1/rooms'], bodies: [JSON.stringify({ mode: 'bench', maxPlayers: 8 })], concurrency: 1, seconds: 0 }
  // Warm the path (gRPC channel, JIT) before timing.
  await runLoad(c.gateway.address, { ...spec, prefix: 'warm-', total: 20 })
  const load = await runLoad(c.gateway.address, { ...spec, prefix: 'creator-', total: n })
  const s = summarize(load.latencies)
  return { p50: s.p50, p99: s.p99, rps: (load.latencies.length / load.ms) * 1000, failed: load.latencies.length - ok(load, 201) }
}

async function measureJoins(c: Cluster, rooms: number, seats: number, concurrency: number, seconds: number): Promise<Throughput> {
  const ids: string[] = []
  // Create the rooms through the API too (then read their ids from the store).
  await runLoad(c.gateway.address, { paths: ['/v1/rooms'], bodies: [JSON.stringify({ mode: 'join', maxPlayers: seats })], prefix: 'owner-', total: rooms, concurrency: 8, seconds: 0 })
  for (const kv of (await c.store.range(c.keys.rooms())).kvs) {
    const room = JSON.parse(kv.value) as { id: string; mode: string }
    if (room.mode === 'join') ids.push(room.id)
  }
  const total = ids.length * (seats - 1)
  return timedLoad(c, { paths: ids.map((id) => `/v1/rooms/${id}/join`), bodies: [''], prefix: 'joiner-', total, concurrency, seconds })
}

/**
 * Runs the load and also measures this process's CPU time (the gateway, plus the coordinator and
 * workers idling beside it): CPU per request gives the rate one core could serve, a figure that
 * holds even when other processes share the machine.
 */
async function timedLoad(c: Cluster, spec: LoadSpec): Promise<Throughput> {
  const loopBefore = mainThreadCpuUs()
  const before = process.cpuUsage()
  const load = await runLoad(c.gateway.address, spec)
  const cpu = process.cpuUsage(before)
  const loopAfter = mainThreadCpuUs()
  const s = summarize(load.latencies)
  const served = ok(load, 200)
  const cpuUs = cpu.user + cpu.system
  const requests = Math.max(1, load.latencies.length)
  return {
    p50: s.p50, p99: s.p99, rps: (served / load.ms) * 1000, failed: load.latencies.length - served,
    cpuUsPerRequest: cpuUs / requests, utilization: cpuUs / 1000 / load.ms,
    loopCpuUsPerRequest: loopBefore !== undefined && loopAfter !== undefined ? (loopAfter - loopBefore) / requests : undefined,
  }
}

async function measureWorldJoins(c: Cluster, concurrency: number, seconds: number): Promise<Throughput> {
  await c.store.put(c.keys.rebalancingPaused(), 'true')
  const bounds = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
  const map = createMap('bench-world', bounds, 'w1')
  map.root = { kind: 'split', id: 'p0', axis: 'x', at: 500, low: { kind: 'leaf', id: 'p1', owner: 'w1', epoch: 1 }, high: { kind: 'leaf', id: 'p2', owner: 'w2', epoch: 1 } }
  map.nextId = 3
  await c.store.put(c.keys.world('bench-world'), JSON.stringify({ id: 'bench-world', kind: 'world', bounds, labels: {}, createdAt: Date.now() }))
  await c.store.put(c.keys.worldMap('bench-world'), encodeMap(map))
  while (!c.gateway.view.map('bench-world')) await new Promise((r) => setTimeout(r, 10))
  const bodies = Array.from({ length: 97 }, (_, i) => JSON.stringify({ spawn: { x: (i * 37) % 1000, y: (i * 91) % 1000 } }))
  return timedLoad(c, { paths: ['/v1/worlds/bench-world/join'], bodies, prefix: 'walker-', total: 1_000_000, concurrency, seconds })
}


const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

const scenario: Scenario = {
  name: 'gateway',
  description: 'gateway HTTP API: create → joinable latency, join by id and world join throughput (memory store and etcd)',
  async run(flags: BenchFlags): Promise<BenchResult> {
    const seconds = flags.seconds ?? 3
    const concurrency = Number(flags.extra.concurrency ?? 64)
    const creates = Number(flags.extra.creates ?? 300)
    const rooms = Number(flags.extra.rooms ?? 800)
    const seats = Number(flags.extra.seats ?? 32)
    const phases = new Set((flags.extra.phases ?? 'create,join,world').split(','))
    const kinds = (flags.extra.stores ?? 'memory,etcd').split(',').filter((k): k is 'memory' | 'etcd' => k === 'memory' || k === 'etcd')
    const metrics: Record<string, number> = {}
    const notes: string[] = []
    let etcd: EtcdMember | undefined
    try {
      if (kinds.includes('etcd')) etcd = await startEtcd()
      for (const kind of kinds) {
        const c = await cluster(kind, etcd)
        try {
          if (phases.has('create')) {
            const cr = await measureCreates(c, creates)
            metrics[`create_ms_p50_${kind}`] = round(cr.p50)
            metrics[`create_ms_p99_${kind}`] = round(cr.p99)
            notes.push(`${kind}: ${creates} sequential creates: p50 ${round(cr.p50)} ms, p99 ${round(cr.p99)} ms, ${round(cr.rps, 0)}/s, ${cr.failed} failed`)
          }
          if (kind !== flags.store) continue
          if (phases.has('join')) {
          const j = await measureJoins(c, rooms, seats, concurrency, seconds)
          metrics.join_rps = round(j.rps, 0)
          metrics.join_ms_p50 = round(j.p50)
          metrics.join_ms_p99 = round(j.p99)
          metrics.join_cpu_us = round(j.cpuUsPerRequest, 0)
          // What one core would serve were it the gateway's alone (the measured rate shares the machine with the load client).
          metrics.join_rps_per_core = round(1e6 / j.cpuUsPerRequest, 0)
          if (j.loopCpuUsPerRequest !== undefined) metrics.join_loop_cpu_us = round(j.loopCpuUsPerRequest, 0)
          notes.push(`${kind}: join by id, ${concurrency} concurrent: ${round(j.rps, 0)}/s, p50 ${round(j.p50)} ms, p99 ${round(j.p99)} ms, ${j.failed} failed; gateway process ${round(j.utilization * 100, 0)}% of a core, ${round(j.cpuUsPerRequest, 0)} µs CPU/request (event loop ${j.loopCpuUsPerRequest === undefined ? '?' : round(j.loopCpuUsPerRequest, 0)} µs)`)
          }
          if (!phases.has('world')) continue
          const w = await measureWorldJoins(c, concurrency, seconds)
          metrics.world_join_rps = round(w.rps, 0)
          metrics.world_join_ms_p50 = round(w.p50)
          metrics.world_join_ms_p99 = round(w.p99)
          metrics.world_join_cpu_us = round(w.cpuUsPerRequest, 0)
          metrics.world_join_rps_per_core = round(1e6 / w.cpuUsPerRequest, 0)
          if (w.loopCpuUsPerRequest !== undefined) metrics.world_join_loop_cpu_us = round(w.loopCpuUsPerRequest, 0)
          notes.push(`${kind}: world join, ${concurrency} concurrent: ${round(w.rps, 0)}/s, p50 ${round(w.p50)} ms, p99 ${round(w.p99)} ms, ${w.failed} failed; gateway process ${round(w.utilization * 100, 0)}% of a core, ${round(w.cpuUsPerRequest, 0)} µs CPU/request`)
        } finally {
          await c.stop()
        }
      }
    } finally {
      await etcd?.stop()
    }
    return { params: { seconds, concurrency, creates, rooms, seats, store: flags.store }, metrics, notes }
  },
}

export default scenario
