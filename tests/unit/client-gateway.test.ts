/**
 * Joining through the gateway: the client asks `POST /v1/rooms` (then joins the created room by id
 * on reconnection), sends the player identity, maps gateway errors, and asks again on every
 * reconnection. A tiny HTTP server plays the gateway; connections are fakes.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TesseraClient } from '../../client/client.ts'
import type { TesseraClientError } from '../../client/client.ts'
import type { ConnectOptions } from '../../client/connection.ts'
import { GatewayError, requestGrant } from '../../client/gateway-api.ts'
import { nodeHttpFetch } from '../../client/polyfill-node.ts'
import { FakeConnection } from '../helpers/fake-connection.ts'
import { eventually } from '../helpers/eventually.ts'

const requests: Array<{ method: string; url: string; player: string | undefined; body: string }> = []
let gateway: string
const server = http.createServer((req, res) => {
  let body = ''
  req.on('data', (c: Buffer) => (body += c.toString()))
  req.on('end', () => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', player: req.headers['x-player-id'] as string | undefined, body })
    res.setHeader('content-type', 'application/json')
    if (req.url === '/v1/rooms/slow/join') {
      setTimeout(() => res.end('{}'), 2000)
      return
    }
    if (req.url === '/v1/rooms/text/join') {
      res.end('not json')
      return
    }
    if (req.url === '/v1/rooms/full/join') {
      res.statusCode = 409
      res.end(JSON.stringify({ error: { code: 'room_full', message: 'full is full' } }))
      return
    }
    const n = requests.length
    res.end(JSON.stringify({ workerUrl: `http://127.0.0.1:${7000 + n}`, ticket: `ticket-${n}`, roomId: 'room-9', expiresAt: Date.now() + 30_000 }))
  })
})

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  gateway = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => {
  server.close()
})

describe('joining through the gateway', () => {
  it('creates a room, then rejoins it by id with a fresh grant after a drop', async () => {
    const conns: Array<{ conn: FakeConnection; options: ConnectOptions }> = []
    const client = new TesseraClient({
      connect: async (options) => {
        const conn = new FakeConnection(options.ticket, conns.length)
        conns.push({ conn, options })
        return conn
      },
      reconnect: { initialMs: 5, maxMs: 10 },
    })
    const joining = client.join({ gateway, playerId: 'ann', create: { mode: 'duel', maxPlayers: 2 } })
    await eventually('first connection', () => conns[0]?.conn.listening)
    expect(conns[0]?.options).toMatchObject({ url: 'http://127.0.0.1', port: 7001, ticket: 'ticket-1' })
    conns[0]?.conn.join(1)
    await joining
    conns[0]?.conn.drop('network')
    await eventually('second connection', () => conns[1]?.conn.listening)
    conns[1]?.conn.join(2)
    await eventually('connected', () => client.state === 'connected')
    expect(requests.map((r) => `${r.method} ${r.url} ${r.player}`)).toEqual(['POST /v1/rooms ann', 'POST /v1/rooms/room-9/join ann'])
    expect(JSON.parse(requests[0]?.body ?? '{}')).toEqual({ mode: 'duel', maxPlayers: 2 })
    expect(conns[1]?.options).toMatchObject({ port: 7002, ticket: 'ticket-2' })
    client.close()
  })

  it('reports gateway refusals with their code and does not retry them', async () => {
    await expect(requestGrant({ gateway }, { room: 'full' })).rejects.toMatchObject({ code: 'room_full', status: 409, retryable: false })
    await expect(requestGrant({ gateway: 'http://127.0.0.1:1' }, { world: 'w' })).rejects.toBeInstanceOf(GatewayError)
    const client = new TesseraClient({ connect: async () => new FakeConnection('x'), reconnect: { initialMs: 5, maxAttempts: 2 } })
    const err = await client.join({ gateway, room: 'full' }).then(() => undefined, (e: unknown) => e as TesseraClientError)
    expect(err).toMatchObject({ code: 'room_full', retryable: false })
    expect(client.state).toBe('closed')
  })

  it('does the same over node:http (nodeHttpFetch) as over fetch', async () => {
    const before = requests.length
    const grant = await requestGrant({ gateway, playerId: 'nia', fetch: nodeHttpFetch }, { world: 'w', spawn: { x: 1, y: 2 } })
    expect(grant).toMatchObject({ workerUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), ticket: `ticket-${before + 1}` })
    expect(requests.at(-1)).toEqual({ method: 'POST', url: '/v1/worlds/w/join', player: 'nia', body: '{"spawn":{"x":1,"y":2}}' })
    await expect(requestGrant({ gateway, fetch: nodeHttpFetch }, { room: 'full' })).rejects.toMatchObject({ code: 'room_full', status: 409, retryable: false })
    await expect(requestGrant({ gateway, fetch: nodeHttpFetch }, { room: 'text' })).rejects.toMatchObject({ code: 'bad_response', status: 200 })
    await expect(requestGrant({ gateway: 'http://127.0.0.1:1', fetch: nodeHttpFetch }, { world: 'w' })).rejects.toMatchObject({ code: 'network', retryable: true })
    await expect(requestGrant({ gateway, fetch: nodeHttpFetch, timeoutMs: 100 }, { room: 'slow' })).rejects.toMatchObject({ code: 'network' })
  })
})
