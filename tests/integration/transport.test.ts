/**
 * The geckos.io client transport against real geckos clients on 127.0.0.1: routing by ticket,
 * refusals before a channel exists, and the robustness the worker needs (clients closing inside
 * their connect callback, vanishing without a goodbye, flooding garbage) without the process dying
 * or other clients suffering. One transport per file (one geckos server per process).
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import type { ClientConnection, CloseReason } from '../../worker/transport/geckos-server.ts'
import { TRANSPORT_RESERVED_MIN, TransportOp } from '../../core/wire/transport-frames.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import { installNodeWebRTC } from '../../client/polyfill-node.ts'
import { ConnectError, connect } from '../../client/connection.ts'
import type { Connection } from '../../client/connection.ts'
import { bundleForBrowser, launchChromium } from '../helpers/browser.ts'

interface Principal {
  player: string
}

const HEARTBEAT_MS = 200
const HEARTBEAT_TIMEOUT_MS = 1500
const HANDSHAKE_TIMEOUT_MS = 1500

let transport: ClientTransport<Principal>
const accepted: Array<ClientConnection<Principal>> = []
const closedReasons = new Map<string, CloseReason>()
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
const clients: Connection[] = []
const children: ChildProcess[] = []
const registry = new Registry()

/** Polls `check` until it returns true; fails after `timeoutMs`. */
async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function echoHandler(tag: number) {
  return {
    onConnect(conn: ClientConnection<Principal>): void {
      accepted.push(conn)
      conn.onMessage((bytes) => {
        const reply = new Uint8Array(bytes.length + 1)
        reply[0] = tag
        reply.set(bytes, 1)
        conn.sendRaw(reply)
      })
      conn.onClose((reason) => closedReasons.set(conn.id, reason))
    },
  }
}

async function open(ticket: string): Promise<Connection> {
  const conn = await connect({ url: transport.url, port: transport.port, ticket, timeoutMs: 10_000 })
  clients.push(conn)
  return conn
}

/** Sends `payload` and resolves with the first reply, retrying (the channel is unreliable). */
async function roundTrip(conn: Connection, payload: number[], timeoutMs = 3000): Promise<Uint8Array> {
  let reply: Uint8Array | undefined
  conn.onMessage((bytes) => {
    if (bytes.length === payload.length + 1 && payload.every((b, i) => bytes[i + 1] === b)) reply ??= bytes
  })
  const deadline = performance.now() + timeoutMs
  while (reply === undefined) {
    if (performance.now() > deadline) throw new Error('no reply')
    conn.sendRaw(new Uint8Array(payload))
    await new Promise((r) => setTimeout(r, 50))
  }
  return reply
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  installNodeWebRTC()
  transport = await ClientTransport.start<Principal>({
    authorize: async (token) => {
      if (token.startsWith('ok:')) {
        const [, route = '', player = 'anon'] = token.split(':')
        return { ok: true, route, principal: { player } }
      }
      if (token === 'forbidden') return { ok: false, status: 403, code: 'wrong-world' }
      return { ok: false, status: 401, code: 'bad-ticket' }
    },
    heartbeatIntervalMs: HEARTBEAT_MS,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    limits: { maxMessageBytes: 256, maxMessagesPerSecond: 100, burst: 100, maxViolations: 30 },
    registry,
  })
  transport.route('w1', echoHandler(1))
  transport.route('w2', echoHandler(2))
  // A worker that turns every client away inside onConnect, synchronously.
  transport.route('w3', {
    onConnect(conn) {
      accepted.push(conn)
      conn.onClose((reason) => closedReasons.set(conn.id, reason))
      conn.close(4000)
    },
  })
})

afterAll(async () => {
  for (const c of clients) c.close()
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await transport?.close()
  process.off('unhandledRejection', onUnhandled)
})

describe('client transport (geckos.io)', () => {
  it('keeps its frames and the game protocol in separate first-byte ranges', () => {
    expect(TRANSPORT_RESERVED_MIN).toBe(Protocol.transportReservedMin)
    for (const op of Object.values(TransportOp)) expect(op).toBeGreaterThanOrEqual(TRANSPORT_RESERVED_MIN)
    for (const op of [...Object.values(Protocol.clientOp), ...Object.values(Protocol.serverOp)]) expect(op).toBeLessThan(TRANSPORT_RESERVED_MIN)
  })

  it('refuses a second transport in the same process', async () => {
    await expect(ClientTransport.start({ authorize: async () => ({ ok: false, status: 401, code: 'x' }) })).rejects.toMatchObject({
      code: 'already-running',
    })
  })

  it('routes a good ticket to its worker and carries messages both ways', async () => {
    const a = await open('ok:w1:alice')
    const b = await open('ok:w2:bob')
    expect((await roundTrip(a, [7, 8, 9]))[0]).toBe(1)
    expect((await roundTrip(b, [7, 8, 9]))[0]).toBe(2)
    const alice = accepted.find((c) => c.id === a.id)
    expect(alice?.route).toBe('w1')
    expect(alice?.principal).toEqual({ player: 'alice' })
    expect(accepted.find((c) => c.id === b.id)?.route).toBe('w2')
    expect(a.userData).toEqual({ route: 'w1', principal: { player: 'alice' } })
  })

  it('refuses bad, forbidden and unroutable tickets before a channel exists', async () => {
    const before = accepted.length
    const peersBefore = transport.connectionCount
    const refusal = async (ticket: string): Promise<ConnectError> => {
      const err = await connect({ url: transport.url, port: transport.port, ticket, timeoutMs: 5000 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConnectError)
      return err as ConnectError
    }
    expect(await refusal('garbage')).toMatchObject({ code: 'refused', status: 401, retryable: false })
    expect(await refusal('forbidden')).toMatchObject({ code: 'refused', status: 403 })
    expect(await refusal('ok:nowhere:eve')).toMatchObject({ code: 'refused', status: 503 })
    expect(accepted.length).toBe(before)
    expect(transport.connectionCount).toBe(peersBefore)
    expect(transport.stats.refusals).toMatchObject({ 'bad-ticket': 1, 'wrong-world': 1, 'no-route': 1 })
  })

  it('survives clients that close synchronously inside their connect callback', async () => {
    const steady = await open('ok:w1:steady')
    const { default: geckos } = await import('@geckos.io/client')
    for (let i = 0; i < 6; i++) {
      const channel = geckos({ url: transport.url, port: transport.port, authorization: 'Bearer ok:w1:rude' })
      await new Promise<void>((resolve) => {
        void channel.onConnect((error) => {
          if (!error) channel.close()
          resolve()
        })
      })
    }
    // The server process is this process: reaching here alive is half the proof; the rest is
    // that others are still served and the rude peers are all released.
    expect((await roundTrip(steady, [42]))[0]).toBe(1)
    await waitFor(() => accepted.filter((c) => c.principal.player === 'rude').every((c) => !c.open), 5000, 'rude clients closed')
    await waitFor(() => transport.connections().every((c) => c.principal.player !== 'rude'), 5000, 'rude peers released')
  })

  it('survives a handler that closes clients synchronously inside onConnect', async () => {
    const steady = await open('ok:w2:steady2')
    const told: Array<number | undefined> = []
    for (let i = 0; i < 5; i++) {
      const conn = await open('ok:w3:turned-away')
      conn.onClose((_reason, code) => told.push(code))
    }
    await waitFor(() => accepted.filter((c) => c.principal.player === 'turned-away').length === 5, 5000, 'five accepts')
    expect(accepted.filter((c) => c.principal.player === 'turned-away').every((c) => closedReasons.get(c.id) === 'server-closed')).toBe(true)
    await waitFor(() => told.length === 5, 5000, 'clients told of the close')
    expect((await roundTrip(steady, [1, 2]))[0]).toBe(2)
  })

  it('detects a SIGKILLed client by heartbeat within the timeout', async () => {
    const child = fork(fileURLToPath(new URL('./helpers/transport-client.ts', import.meta.url)), [transport.url, String(transport.port), 'ok:w2:doomed'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    })
    children.push(child)
    const id = await new Promise<string>((resolve, reject) => {
      child.once('message', (msg: { type: string; id?: string; message?: string }) =>
        msg.type === 'connected' && msg.id ? resolve(msg.id) : reject(new Error(msg.message)),
      )
      child.once('exit', (code) => reject(new Error(`client child exited early (${code})`)))
    })
    await waitFor(() => accepted.some((c) => c.id === id), 5000, 'server side of the child')
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    const killedAt = performance.now()
    await waitFor(() => closedReasons.has(id), HEARTBEAT_TIMEOUT_MS + 5000, 'heartbeat to notice the killed client')
    expect(closedReasons.get(id)).toBe('timeout')
    // Nominally timeout + one interval; the slack is for a loaded machine. geckos alone takes ~13 s.
    expect(performance.now() - killedAt).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 2000)
  })

  it('lets a client notice a SIGKILLed server by heartbeat within its timeout', async () => {
    const child = fork(fileURLToPath(new URL('./helpers/transport-server.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    })
    children.push(child)
    const address = await new Promise<{ url: string; port: number }>((resolve, reject) => {
      child.once('message', (msg: { url: string; port: number }) => resolve(msg))
      child.once('exit', (code) => reject(new Error(`server child exited early (${code})`)))
    })
    const conn = await connect({ ...address, ticket: 'ok:x', heartbeatIntervalMs: HEARTBEAT_MS, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS })
    clients.push(conn)
    let closed: string | undefined
    conn.onClose((reason) => {
      closed = reason
    })
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    const killedAt = performance.now()
    await waitFor(() => closed !== undefined, HEARTBEAT_TIMEOUT_MS + 5000, 'client heartbeat to notice the dead server')
    expect(closed).toBe('timeout')
    expect(performance.now() - killedAt).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 2000)
  })

  it('frees a peer whose client vanished mid-handshake', async () => {
    const before = transport.stats.handshakeTimeouts
    const res = await fetch(`${transport.url}:${transport.port}/.wrtc/v2/connections`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ok:w1:ghost' },
    })
    expect(res.status).toBe(200)
    await res.json()
    await waitFor(() => transport.stats.handshakeTimeouts > before, HANDSHAKE_TIMEOUT_MS + 2000, 'handshake timeout')
    expect(accepted.some((c) => c.principal.player === 'ghost')).toBe(false)
  })

  it('limits and drops a client flooding malformed and oversized packets; others keep being served', async () => {
    const good = await open('ok:w2:good')
    const { default: geckos } = await import('@geckos.io/client')
    const flooder = geckos({ url: transport.url, port: transport.port, authorization: 'Bearer ok:w1:flooder' })
    await new Promise<void>((resolve, reject) => {
      void flooder.onConnect((error) => (error ? reject(error) : resolve()))
    })
    await waitFor(() => accepted.some((c) => c.principal.player === 'flooder'), 5000, 'flooder accepted')
    const serverSide = accepted.find((c) => c.principal.player === 'flooder') as ClientConnection<Principal>
    const garbage: Array<string | Uint8Array> = [
      new Uint8Array(2000).fill(0xab), // oversized
      'null', // text: geckos' own parser would throw on this inside a native callback
      '{"rawMessage":1}',
      new Uint8Array([0xff, 1, 2]), // reserved transport opcode, unknown
      new Uint8Array([0xf0]), // truncated ping
      new Uint8Array(0),
    ]
    let goodReplies = 0
    good.onMessage((bytes) => {
      if (bytes[0] === 2) goodReplies++
    })
    for (let round = 0; round < 40 && serverSide.open; round++) {
      for (const g of garbage) flooder.raw.emit(g)
      for (let i = 0; i < 20; i++) flooder.raw.emit(new Uint8Array([1, i])) // over-rate
      good.sendRaw(new Uint8Array([5, round]))
      await new Promise((r) => setTimeout(r, 20))
    }
    await waitFor(() => !serverSide.open, 5000, 'flooder disconnected')
    expect(closedReasons.get(serverSide.id)).toBe('abuse')
    expect(transport.stats.drops.oversize ?? 0).toBeGreaterThan(0)
    expect(transport.stats.drops.malformed ?? 0).toBeGreaterThan(0)
    expect(good.open).toBe(true)
    expect(goodReplies).toBeGreaterThan(0)
    expect((await roundTrip(good, [9, 9]))[0]).toBe(2)
    flooder.close()
  })

  it('connects from a real browser with the plain geckos client', async () => {
    const web = http.createServer()
    const browser = await launchChromium()
    try {
      const bundle = await bundleForBrowser(fileURLToPath(new URL('./helpers/transport-browser-entry.ts', import.meta.url)), 'tesseraTransportCheckBundle')
      // Served from 127.0.0.1 too: Chromium blocks a page from an opaque origin reaching loopback.
      web.on('request', (req, res) => {
        res.setHeader('content-type', req.url === '/bundle.js' ? 'text/javascript' : 'text/html')
        res.end(req.url === '/bundle.js' ? bundle : '<script src="/bundle.js"></script>')
      })
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', () => resolve()))
      const page = await browser.newPage()
      await page.goto(`http://127.0.0.1:${(web.address() as AddressInfo).port}/`)
      const result = await page.evaluate(
        ([url, port]) => (globalThis as unknown as Record<string, (u: string, p: number, t: string) => Promise<unknown>>)['tesseraTransportCheck']?.(url, port, 'ok:w1:browser'),
        [transport.url, transport.port] as const,
      )
      expect(result).toEqual({ reply: [1, 7, 7], refused: 'refused:401' })
      expect(accepted.some((c) => c.principal.player === 'browser')).toBe(true)
    } finally {
      await browser.close()
      web.close()
    }
  })

  it('closes cleanly: clients are told, peers released, no unhandled rejections', async () => {
    const last = await open('ok:w1:last')
    let told: { reason: string; code: number | undefined } | undefined
    last.onClose((reason, code) => {
      told = { reason, code }
    })
    const metrics = await registry.metrics()
    expect(metrics).toMatch(/^tessera_transport_connects_total [1-9]/m)
    expect(metrics).toMatch(/^tessera_transport_refusals_total\{code="bad-ticket"\} [1-9]/m)
    expect(metrics).toMatch(/^tessera_transport_disconnects_total\{reason="abuse"\} 1/m)
    await transport.close()
    expect(transport.connectionCount).toBe(0)
    await waitFor(() => told !== undefined, 3000, 'client to learn of the close')
    expect(['server-closed', 'network']).toContain(told?.reason)
    expect(unhandled).toEqual([])
  })
})
