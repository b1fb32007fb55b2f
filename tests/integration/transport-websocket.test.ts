/**
 * The client transport's WebSocket fallback against the player library's WebSocket connection and
 * raw `ws` sockets on 127.0.0.1: tickets checked before the upgrade, refusals the client can read,
 * the same limits, heartbeats and close codes as data channels, and nothing left behind by clients
 * that misbehave or vanish (mid-handshake included).
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { WebSocket as RawWebSocket } from 'ws'
import { ClientTransport, TransportCloseCode } from '../../worker/transport/geckos-server.ts'
import type { ClientConnection, CloseReason } from '../../worker/transport/geckos-server.ts'
import { TransportOp, WebSocketEndpoint, encodePing, readAccept } from '../../core/wire/transport-frames.ts'
import { installNodeWebSocket } from '../../client/polyfill-node.ts'
import { ConnectError } from '../../client/connection.ts'
import type { Connection } from '../../client/connection.ts'
import { connectWebSocket, webSocketUrl } from '../../client/websocket-connection.ts'
import { ticketFromProtocols } from '../../worker/transport/websocket.ts'

interface Principal {
  player: string
}

const HEARTBEAT_MS = 200
const HEARTBEAT_TIMEOUT_MS = 1500

let transport: ClientTransport<Principal>
const accepted: Array<ClientConnection<Principal>> = []
const closedReasons = new Map<string, CloseReason>()
const clients: Connection[] = []
const registry = new Registry()
/** Tickets whose check is held until released, to vanish mid-handshake. */
const held = new Map<string, () => void>()

async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function open(ticket: string): Promise<Connection> {
  const conn = await connectWebSocket({ url: transport.url, port: transport.port, ticket, timeoutMs: 5000 })
  clients.push(conn)
  return conn
}

/** Sends `payload` and resolves with the reply (the channel is reliable: one send is enough). */
function roundTrip(conn: Connection, payload: number[]): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply')), 3000)
    conn.onMessage((bytes) => {
      if (bytes.length === payload.length + 1 && payload.every((b, i) => bytes[i + 1] === b)) {
        clearTimeout(timer)
        resolve(bytes)
      }
    })
    expect(conn.sendRaw(new Uint8Array(payload))).toBe(true)
  })
}

/** A raw socket with a ticket, past the ACCEPT frame. */
async function rawAccepted(ticket: string): Promise<RawWebSocket> {
  const ws = new RawWebSocket(webSocketUrl(transport.url, transport.port), [WebSocketEndpoint.PROTOCOL, `${WebSocketEndpoint.TICKET_PREFIX}${ticket}`])
  await new Promise<void>((resolve, reject) => {
    ws.once('message', (data: Buffer) => (data[0] === TransportOp.ACCEPT ? resolve() : reject(new Error('not accepted'))))
    ws.once('error', reject)
  })
  return ws
}

function closeOf(ws: RawWebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })))
}

beforeAll(async () => {
  installNodeWebSocket()
  transport = await ClientTransport.start<Principal>({
    authorize: async (token) => {
      if (token.startsWith('hold.')) await new Promise<void>((resolve) => held.set(token, resolve))
      if (token.startsWith('ok.') || token.startsWith('hold.')) {
        const [, route = '', player = 'anon'] = token.split('.')
        return { ok: true, route, principal: { player } }
      }
      if (token === 'forbidden') return { ok: false, status: 403, code: 'wrong-world' }
      return { ok: false, status: 401, code: 'bad-ticket' }
    },
    heartbeatIntervalMs: HEARTBEAT_MS,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    limits: { maxMessageBytes: 256, maxMessagesPerSecond: 100, burst: 100, maxViolations: 30 },
    registry,
  })
  for (const [route, tag] of [['w1', 1], ['w2', 2]] as const) {
    transport.route(route, {
      onConnect(conn) {
        accepted.push(conn)
        conn.onMessage((bytes) => {
          const reply = new Uint8Array(bytes.length + 1)
          reply[0] = tag
          reply.set(bytes, 1)
          conn.sendRaw(reply)
        })
        conn.onClose((reason) => closedReasons.set(conn.id, reason))
      },
    })
  }
  // Greets every client the moment it is admitted: nothing may be lost before the client listens.
  transport.route('greeter', {
    onConnect(conn) {
      accepted.push(conn)
      for (let i = 0; i < 3; i++) conn.sendRaw(new Uint8Array([0x10, i]))
    },
  })
})

afterAll(async () => {
  for (const c of clients) c.close()
  await transport?.close()
})

describe('client transport (WebSocket fallback)', () => {
  it('reads the ticket from the subprotocol list only', () => {
    expect(ticketFromProtocols('tessera.v1, tessera.ticket.a.b-c_d')).toBe('a.b-c_d')
    expect(ticketFromProtocols('tessera.v1')).toBeUndefined()
    expect(ticketFromProtocols('tessera.ticket.')).toBeUndefined()
    expect(ticketFromProtocols(undefined)).toBeUndefined()
    expect(webSocketUrl('http://127.0.0.1', 9000)).toBe('ws://127.0.0.1:9000/.tessera/ws')
    expect(webSocketUrl('https://play.example.com', 443)).toBe('wss://play.example.com:443/.tessera/ws')
  })

  it('routes a good ticket to its worker and carries messages both ways', async () => {
    const a = await open('ok.w1.alice')
    const b = await open('ok.w2.bob')
    expect((await roundTrip(a, [7, 8, 9]))[0]).toBe(1)
    expect((await roundTrip(b, [7, 8, 9]))[0]).toBe(2)
    expect(a.id).toMatch(/^ws-\d+$/)
    expect(a.userData).toEqual({ route: 'w1', principal: { player: 'alice' } })
    const alice = accepted.find((c) => c.id === a.id)
    expect(alice).toMatchObject({ route: 'w1', principal: { player: 'alice' } })
    expect(transport.connections('w2').map((c) => c.id)).toContain(b.id)
    const metrics = await registry.metrics()
    expect(metrics).toContain('tessera_transport_connections{kind="websocket"} 2')
    expect(metrics).toContain('tessera_transport_connections{kind="webrtc"} 0')
  })

  it('keeps messages the server sends at once until the client listens', async () => {
    const conn = await open('ok.greeter.early')
    await new Promise((r) => setTimeout(r, 100))
    const got: number[] = []
    conn.onMessage((bytes) => got.push(bytes[1] as number))
    expect(got).toEqual([]) // not inside the registration: the caller may still be wiring up
    await Promise.resolve()
    expect(got).toEqual([0, 1, 2])
  })

  it('refuses bad, forbidden, missing and unroutable tickets with a status the client can read', async () => {
    const before = accepted.length
    const refusal = (ticket: string): Promise<unknown> => connectWebSocket({ url: transport.url, port: transport.port, ticket, timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(await refusal('garbage')).toMatchObject({ code: 'refused', status: 401, retryable: false })
    expect(await refusal('forbidden')).toMatchObject({ code: 'refused', status: 403 })
    expect(await refusal('ok.nowhere.eve')).toMatchObject({ code: 'refused', status: 503, retryable: true })
    // No ticket at all: the subprotocol is missing.
    const bare = new RawWebSocket(webSocketUrl(transport.url, transport.port), [WebSocketEndpoint.PROTOCOL])
    expect((await closeOf(bare)).code).toBe(WebSocketEndpoint.REFUSED_BASE + 401)
    expect(accepted.length).toBe(before)
    expect(transport.stats.refusals).toMatchObject({ 'bad-ticket': 1, 'wrong-world': 1, 'no-route': 1, 'missing-token': 1 })
    expect(await refusal('garbage')).toBeInstanceOf(ConnectError)
  })

  it('answers other upgrade paths with 404', async () => {
    const ws = new RawWebSocket(`ws://127.0.0.1:${transport.port}/elsewhere`, [WebSocketEndpoint.PROTOCOL, `${WebSocketEndpoint.TICKET_PREFIX}ok.w1.x`])
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.once('error', () => resolve(-1))
    })
    expect(status).toBe(404)
  })

  it('applies the limits: text and oversize count as violations, a flood is disconnected with 4002', async () => {
    const steady = await open('ok.w1.steady')
    const ws = await rawAccepted('ok.w1.flooder')
    const closed = closeOf(ws)
    let codeFromServer: number | undefined
    ws.on('message', (data: Buffer) => {
      if (data[0] === TransportOp.CLOSE) codeFromServer = data.readUInt16LE(1)
    })
    ws.send('{"not":"binary"}')
    ws.send(Buffer.alloc(300, 1))
    for (let i = 0; i < 400; i++) ws.send(Buffer.from([1, i & 0xff]))
    await closed
    expect(codeFromServer).toBe(TransportCloseCode.ABUSE)
    await waitFor(() => accepted.some((c) => c.principal.player === 'flooder' && closedReasons.get(c.id) === 'abuse'), 3000, 'flooder closed for abuse')
    expect(transport.stats.drops).toMatchObject({ malformed: expect.any(Number), oversize: expect.any(Number), rate: expect.any(Number) })
    expect((await roundTrip(steady, [5]))[0]).toBe(1)
  })

  it('ends a socket that sends a message far over the limit at once (1009)', async () => {
    const ws = await rawAccepted('ok.w1.huge')
    const closed = closeOf(ws)
    ws.send(Buffer.alloc(64 * 1024, 1))
    expect((await closed).code).toBe(1009)
    await waitFor(() => transport.connections().every((c) => c.principal.player !== 'huge'), 3000, 'huge released')
  })

  it('closes a client that stops answering within the heartbeat timeout', async () => {
    const ws = await rawAccepted('ok.w2.silent')
    ws.on('message', () => {}) // reads, never answers a ping
    const started = performance.now()
    const { code } = await closeOf(ws)
    const elapsed = performance.now() - started
    expect(code).toBe(1000)
    expect(elapsed).toBeGreaterThan(HEARTBEAT_TIMEOUT_MS - 300)
    expect(accepted.filter((c) => c.principal.player === 'silent').map((c) => closedReasons.get(c.id))).toEqual(['timeout'])
  })

  it('keeps a client that answers pings, and tells the library when the server closes it', async () => {
    const conn = await open('ok.w1.kept')
    await new Promise((r) => setTimeout(r, HEARTBEAT_TIMEOUT_MS + 500))
    expect(conn.open).toBe(true)
    expect(conn.rttMs).toBeGreaterThanOrEqual(0) // both ends ping and answer
    const server = transport.connections('w1').find((c) => c.principal.player === 'kept')
    expect(server?.rttMs).toBeGreaterThanOrEqual(0)
    const told = new Promise<[string, number | undefined]>((resolve) => conn.onClose((reason, code) => resolve([reason, code])))
    server?.close(4100)
    expect(await told).toEqual(['server-closed', 4100])
  })

  it('frees a client that vanishes without a goodbye', async () => {
    const ws = await rawAccepted('ok.w1.vanisher')
    ws.terminate()
    await waitFor(() => accepted.some((c) => c.principal.player === 'vanisher' && closedReasons.get(c.id) === 'client-closed'), 3000, 'vanisher closed')
    expect(transport.connections().some((c) => c.principal.player === 'vanisher')).toBe(false)
  })

  it('leaves nothing behind when a client vanishes while its ticket is being checked', async () => {
    const before = transport.connectionCount
    const socket = net.connect(transport.port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(
      [
        `GET ${WebSocketEndpoint.PATH} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Protocol: ${WebSocketEndpoint.PROTOCOL}, ${WebSocketEndpoint.TICKET_PREFIX}hold.w1.ghost`, '', '',
      ].join('\r\n'),
    )
    await waitFor(() => held.has('hold.w1.ghost'), 3000, 'ticket check started')
    socket.destroy()
    await new Promise((r) => setTimeout(r, 50))
    held.get('hold.w1.ghost')?.()
    await new Promise((r) => setTimeout(r, 200))
    expect(transport.connectionCount).toBe(before)
    expect(accepted.some((c) => c.principal.player === 'ghost')).toBe(false)
  })

  it('answers a library ping frame sent over a raw socket', async () => {
    const ws = await rawAccepted('ok.w2.pinger')
    const pong = new Promise<Buffer>((resolve) => ws.on('message', (data: Buffer) => data[0] === TransportOp.PONG && resolve(data)))
    ws.send(encodePing(77))
    expect((await pong).readUInt32LE(1)).toBe(77)
    ws.close()
  })

  it('says goodbye with 1001 to every socket when the transport shuts down', async () => {
    const conn = await open('ok.w2.last')
    const told = new Promise<[string, number | undefined]>((resolve) => conn.onClose((reason, code) => resolve([reason, code])))
    await transport.close()
    expect(await told).toEqual(['server-closed', TransportCloseCode.SHUTDOWN])
    expect(readAccept(new Uint8Array([TransportOp.ACCEPT, 0x7b]))).toBeUndefined()
  })
})
