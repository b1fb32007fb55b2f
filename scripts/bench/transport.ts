/**
 * `transport`: the bare geckos.io floor. A ClientTransport in a child process (so its CPU is
 * measured alone, with process.cpuUsage over the measured window), N bot clients here over
 * 127.0.0.1. Each tick (at --hz) every bot sends one small raw message and the server sends every
 * bot one ~200-byte raw message (a snapshot's size). Reports server CPU µs per delivered message
 * (delivered to bots + received by the server) and the delivered ratio.
 *
 * Flags: --bots (100), --seconds (10, split into --rounds 3), --hz (20), --batch (25 connects at a
 * time), --json.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BenchFlags, BenchResult, Scenario } from './scenario.ts'
import { summarize } from './scenario.ts'
import { ServerChild } from './lib/server-child.ts'
import { startTicker } from './lib/ticker.ts'
import { MeasuredWindow } from './lib/window.ts'
import type { ClientConnection } from '../../worker/transport/geckos-server.ts'
import type { Connection } from '../../client/connection.ts'

const SNAPSHOT_BYTES = 200
const INPUT_BYTES = 16
const BENCH_ROUTE = 'bench'

/** Byte 1 of every bench message carries the round it was sent in (0: outside any round), so
 * messages in flight across a round's edges are counted in the right round. */
type ToChild = { type: 'begin'; round: number } | { type: 'end'; round: number } | { type: 'stop' }
type FromChild =
  | { type: 'ready'; url: string; port: number }
  | { type: 'begun' }
  | { type: 'ended'; cpuUs: number; wallMs: number; received: number; sent: number; connections: number }

// ---------------------------------------------------------------- server child

async function serve(hz: number): Promise<void> {
  const send = (msg: FromChild): void => {
    process.send?.(msg)
  }
  const { ClientTransport } = await import('../../worker/transport/geckos-server.ts')
  const transport = await ClientTransport.start({
    authorize: async () => ({ ok: true, route: BENCH_ROUTE, principal: {} }),
    // Bots send at hz plus a ping a second; leave headroom so the limiter never drops bench traffic.
    limits: { maxMessagesPerSecond: hz * 2 + 10, burst: hz * 2 + 10 },
  })
  let round = 0
  let sent = 0
  const receivedIn = new Map<number, number>()
  const conns = new Set<ClientConnection>()
  transport.route(BENCH_ROUTE, {
    onConnect(conn) {
      conns.add(conn)
      conn.onMessage((bytes) => {
        const r = bytes[1] ?? 0
        if (r !== 0) receivedIn.set(r, (receivedIn.get(r) ?? 0) + 1)
      })
      conn.onClose(() => conns.delete(conn))
    },
  })
  const snapshot = new Uint8Array(SNAPSHOT_BYTES).fill(0x11)
  snapshot[0] = 0x01
  const stopTicker = startTicker(hz, () => {
    snapshot[1] = round
    for (const conn of conns) if (conn.sendRaw(snapshot) && round !== 0) sent++
  })
  const window = new MeasuredWindow()
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'begin') {
      round = msg.round
      sent = 0
      window.begin()
      send({ type: 'begun' })
    } else if (msg.type === 'end') {
      const { cpuUs, wallMs } = window.end()
      round = 0
      // Answer after a grace period so the round's last inputs still in flight are counted.
      setTimeout(() => {
        const received = receivedIn.get(msg.round) ?? 0
        send({ type: 'ended', cpuUs, wallMs, received, sent, connections: conns.size })
      }, 150)
    } else if (msg.type === 'stop') {
      stopTicker()
      void transport.close().finally(() => process.exit(0))
    }
  })
  send({ type: 'ready', url: transport.url, port: transport.port })
}

// ---------------------------------------------------------------- bench process

async function run(flags: BenchFlags): Promise<BenchResult> {
  const bots = flags.bots ?? 100
  const seconds = flags.seconds ?? 10
  const hz = flags.hz ?? 20
  const rounds = Math.min(250, Math.max(1, Number(flags.extra['rounds'] ?? 3)))
  const batch = Math.max(1, Number(flags.extra['batch'] ?? 25))

  const proc = fork(fileURLToPath(import.meta.url), ['serve', String(hz)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const server = new ServerChild<ToChild, FromChild>(proc, { type: 'stop' })
  const { installNodeWebRTC } = await import('../../client/polyfill-node.ts')
  const { connect } = await import('../../client/connection.ts')
  installNodeWebRTC()
  const conns: Connection[] = []
  try {
    const { url, port } = await server.next('ready')
    let stamp = 0
    const deliveredIn = new Map<number, number>()
    const connectMs: number[] = []
    const connectStart = performance.now()
    for (let i = 0; i < bots; i += batch) {
      const size = Math.min(batch, bots - i)
      const opened = await Promise.all(
        Array.from({ length: size }, async () => {
          const t0 = performance.now()
          const conn = await connect({ url, port, ticket: 'bench', timeoutMs: 15_000 })
          connectMs.push(performance.now() - t0)
          conn.onMessage((bytes) => {
            const r = bytes[1] ?? 0
            if (r !== 0) deliveredIn.set(r, (deliveredIn.get(r) ?? 0) + 1)
          })
          return conn
        }),
      )
      conns.push(...opened)
    }
    const connectSeconds = (performance.now() - connectStart) / 1000

    const input = new Uint8Array(INPUT_BYTES).fill(0x22)
    input[0] = 0x01
    let botSent = 0
    const stopBots = startTicker(hz, () => {
      input[1] = stamp
      for (const conn of conns) if (conn.sendRaw(input) && stamp !== 0) botSent++
    })
    // Let a second of steady traffic pass before measuring.
    await new Promise((r) => setTimeout(r, 1000))

    const perRound: Array<{ cpuUs: number; msgs: number; expected: number; cpuPct: number }> = []
    for (let r = 1; r <= rounds; r++) {
      await server.ask({ type: 'begin', round: r }, 'begun')
      botSent = 0
      stamp = r
      await new Promise((res) => setTimeout(res, (seconds * 1000) / rounds))
      stamp = 0
      const end = await server.ask({ type: 'end', round: r }, 'ended')
      const msgs = (deliveredIn.get(r) ?? 0) + end.received
      perRound.push({ cpuUs: end.cpuUs, msgs, expected: end.sent + botSent, cpuPct: (end.cpuUs / 1000 / end.wallMs) * 100 })
    }
    stopBots()

    const totalMsgs = perRound.reduce((s, r) => s + r.msgs, 0)
    const totalExpected = perRound.reduce((s, r) => s + r.expected, 0)
    const usPerMsg = summarize(perRound.map((r) => r.cpuUs / Math.max(1, r.msgs)))
    const cpuPct = summarize(perRound.map((r) => r.cpuPct))
    const connectStats = summarize(connectMs)
    const open = conns.filter((c) => c.open).length
    return {
      params: { bots, seconds, hz, rounds, batch, snapshot_bytes: SNAPSHOT_BYTES, input_bytes: INPUT_BYTES },
      metrics: {
        cpu_us_per_msg: usPerMsg.p50,
        delivered_ratio: totalMsgs / Math.max(1, totalExpected),
        cpu_us_per_msg_max: usPerMsg.max,
        server_cpu_pct: cpuPct.p50,
        msgs_per_s: totalMsgs / seconds,
        connect_all_s: connectSeconds,
        connect_ms_p50: connectStats.p50,
        connect_ms_p99: connectStats.p99,
        bots_open_at_end: open,
      },
      notes: perRound.map(
        (r, i) =>
          `round ${i + 1}: ${(r.cpuUs / Math.max(1, r.msgs)).toFixed(1)} µs/msg, ${r.cpuPct.toFixed(1)}% of a core, ` +
          `${r.msgs}/${r.expected} messages delivered`,
      ),
    }
  } finally {
    for (const conn of conns) conn.close()
    await server.stop()
  }
}

const scenario: Scenario = {
  name: 'transport',
  description: 'bare geckos.io: one server process, N bots, one raw message each way per bot per tick',
  run,
}
export default scenario

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'serve') {
  serve(Number(process.argv[3] ?? 20)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
