/**
 * The room flow end to end on the memory store and on a real etcd member: a real coordinator, two
 * minimal workers reporting load over gRPC, and two gateways answering HTTP. Rooms created on one
 * gateway are joined on the other, concurrent joins through both never overfill a room, empty rooms
 * are removed by the leader and their worker's capacity returns, matchmaking across both gateways
 * forms correct matches, and a player is never in two places.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import type { MatchTicketStatus, RoomGrant, RoomList } from '../../core/api/gateway.ts'
import { silentLogger } from '../../core/log.ts'
import { createMap, encodeMap, leafAt } from '../../core/partition-map.ts'
import { decodeMap } from '../../core/partition-map.ts'
import { occupySeat, readRoom, releaseSeat, seatsTaken, updateRoom } from '../../core/rooms.ts'
import { endSession, writeSession } from '../../core/sessions.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { Keys } from '../../core/store/keys.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { generateTicketKeys, verifyTicket } from '../../core/tickets.ts'
import type { TicketKeyPair } from '../../core/tickets.ts'
import { Gateway } from '../../gateway/gateway.ts'
import type { GatewayExtras } from '../../gateway/gateway.ts'
import { gatewayOptions } from '../../gateway/options.ts'
import type { gatewayOptionsSchema } from '../../gateway/options.ts'
import type { z } from 'zod'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { eventually } from '../helpers/eventually.ts'
import { MinimalWorker } from '../helpers/minimal-worker.ts'
import { readSse } from '../../scripts/cli/sse.ts'
import { StoreClients } from '../helpers/store-clients.ts'

interface Answer<T = unknown> {
  status: number
  body: T & { error?: { code: string; message: string } }
}

/** One HTTP call to a gateway as player `player` (the development identity's header). */
async function call<T = unknown>(gw: Gateway, method: string, path: string, player?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const h: Record<string, string> = { ...headers }
  if (player !== undefined) h['x-player-id'] = player
  if (body !== undefined) h['content-type'] = 'application/json'
  const res = await fetch(`${gw.address}${path}`, { method, headers: h, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer<T>['body'] }
}

const GRACE_MS = 400

describe.each(['memory', 'etcd'] as const)('gateway on the %s store', (kind) => {
  let etcd: EtcdMember | undefined
  const stores = new StoreClients(kind, () => (etcd as EtcdMember).endpoint)
  let running: { stop(): Promise<void> }[] = []
  let keys: Keys
  let n = 0
  let ticketKeys: TicketKeyPair
  let coordinator: Coordinator
  let a: Gateway
  let b: Gateway

  beforeAll(async () => {
    ticketKeys = await generateTicketKeys()
    if (kind === 'etcd') etcd = await startEtcd()
  })
  afterAll(async () => {
    await etcd?.stop()
  })
  afterEach(async () => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined)
    running = []
    await stores.closeAll()
  })

  function store(): ClusterStore {
    return stores.client()
  }

  async function gateway(id: string, options: Partial<z.input<typeof gatewayOptionsSchema>> = {}, extras: GatewayExtras = {}): Promise<Gateway> {
    const g = new Gateway(store(), keys, gatewayOptions({
      id, port: 0, emptyRoomGraceMs: GRACE_MS, seatReservationMs: 2_000, matchTicketTtlMs: 3_000, rateLimitMax: 10_000, logLevel: 'silent', ...options,
    }), silentLogger(), { signingKey: { privateKey: ticketKeys.privateKey, kid: 'k1' }, ...extras })
    await g.start()
    running.push(g)
    return g
  }

  beforeEach(async () => {
    keys = scopedKeys(`/gw-${kind}-${++n}/`)
    coordinator = new Coordinator(store(), keys, coordinatorOptions({
      id: 'c1', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: 100, leaseTtlSeconds: 2, reportStaleMs: 2_000, logLevel: 'silent',
    }), silentLogger())
    await coordinator.start()
    running.push(coordinator)
    for (const id of ['w1', 'w2']) {
      const w = new MinimalWorker(store(), keys, { id, ttlSeconds: 2, reportIntervalMs: 100 })
      await w.start()
      running.push(w)
    }
    a = await gateway('ga')
    b = await gateway('gb')
    await eventually('a leader with both workers', () => coordinator.isLeader && coordinator.view.workers.size === 2)
  })

  async function createRoom(gw: Gateway, player: string, maxPlayers = 4, extra: Record<string, unknown> = {}): Promise<RoomGrant> {
    const res = await call<RoomGrant>(gw, 'POST', '/v1/rooms', player, { mode: 'duel', maxPlayers, ...extra })
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    return res.body
  }

  it('creates a room on gateway A and joins it on gateway B, with tickets the worker accepts', async () => {
    const created = await createRoom(a, 'alice', 4, { labels: { map: 'forest' } })
    expect(created.roomId).toMatch(/^[A-Za-z0-9_-]{8}$/)
    expect(['w1', 'w2']).toContain(created.workerId)
    expect(created.workerUrl).toBe('http://127.0.0.1:1')
    const joined = await call<RoomGrant>(b, 'POST', `/v1/rooms/${created.roomId}/join`, 'bob')
    expect(joined.status).toBe(200)
    expect(joined.body.workerId).toBe(created.workerId)
    const keysByKid = new Map([['k1', ticketKeys.publicKey]])
    const claims = await verifyTicket(keysByKid, joined.body.ticket, { workerId: created.workerId, worldId: created.roomId })
    expect(claims).toMatchObject({ playerId: 'bob', roomId: created.roomId, partitionId: 'p0' })
    // The world and its one-partition map exist, owned by the room's worker.
    const map = decodeMap((await store().get(keys.worldMap(created.roomId)))?.value ?? '')
    expect(leafAt(map, { x: 1, y: 1 })?.owner).toBe(created.workerId)

    const list = await eventually('B lists the room', async () => {
      const l = await call<RoomList>(b, 'GET', '/v1/rooms?mode=duel&label=map:forest&hasSpace=true', 'carol')
      return l.body.rooms.length === 1 ? l.body : undefined
    })
    expect(list.rooms[0]).toMatchObject({ roomId: created.roomId, players: 2, maxPlayers: 4, state: 'open' })
    expect((await call<RoomList>(b, 'GET', '/v1/rooms?label=map:desert', 'carol')).body.rooms).toEqual([])
  })

  it('never gives two creators one room id, even when both gateways draw ids from a pool of three', async () => {
    // Each gateway draws from the same three ids, so most creates collide at the leader.
    const pool = (start: number) => {
      let i = start
      return () => `pool${i++ % 3}`
    }
    const c = await gateway('gc', {}, { newRoomId: pool(0) })
    const d = await gateway('gd', {}, { newRoomId: pool(1) })
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call<RoomGrant>(i % 2 ? c : d, 'POST', '/v1/rooms', `maker${i}`, { mode: 'pool', maxPlayers: 4 })))
    const created = answers.filter((r) => r.status === 201)
    // Every create tries each id of the pool, so all three end up taken, each by one creator.
    expect(created).toHaveLength(3)
    expect(answers.filter((r) => r.status !== 201).every((r) => r.body.error?.code === 'busy')).toBe(true)
    const ids = created.map((r) => r.body.roomId)
    expect(new Set(ids).size).toBe(ids.length)
    // Each room holds exactly its creator's seat, and its ticket names it.
    const keysByKid = new Map([['k1', ticketKeys.publicKey]])
    for (const r of created) {
      const room = await readRoom(store(), keys, r.body.roomId)
      const claims = await verifyTicket(keysByKid, r.body.ticket, { workerId: r.body.workerId, worldId: r.body.roomId })
      const seats = Object.keys(room?.room.seats ?? {})
      expect(seats).toHaveLength(1)
      expect(claims).toMatchObject({ playerId: seats[0], roomId: r.body.roomId })
      expect(room?.room.state).toBe('open')
    }
  })

  it('browses rooms page by page, filtered by mode and free seats', async () => {
    const ids = (await Promise.all(['h1', 'h2', 'h3'].map((p) => createRoom(a, p, 2, { mode: 'page' })))).map((r) => r.roomId).sort()
    const full = await createRoom(a, 'h4', 1, { mode: 'page' })
    await eventually('B sees all four', async () => (await call<RoomList>(b, 'GET', '/v1/rooms?mode=page', 'u')).body.rooms.length === 4)
    const first = await call<RoomList>(b, 'GET', '/v1/rooms?mode=page&hasSpace=true&limit=2', 'u')
    expect(first.body.rooms.map((r) => r.roomId)).toEqual(ids.slice(0, 2))
    const second = await call<RoomList>(b, 'GET', `/v1/rooms?mode=page&hasSpace=true&limit=2&cursor=${first.body.nextCursor ?? ''}`, 'u')
    expect(second.body.rooms.map((r) => r.roomId)).toEqual(ids.slice(2))
    expect(second.body.nextCursor).toBeUndefined()
    expect(first.body.rooms.concat(second.body.rooms).some((r) => r.roomId === full.roomId)).toBe(false)
    expect((await call(b, 'GET', '/v1/rooms?limit=0', 'u')).body.error?.code).toBe('malformed')
  })

  it('never overfills a room under concurrent joins through both gateways; full, closed and unknown rooms answer distinctly', async () => {
    const room = await createRoom(a, 'p0', 5)
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => call<RoomGrant>(i % 2 ? a : b, 'POST', `/v1/rooms/${room.roomId}/join`, `p${i + 1}`)))
    expect(answers.filter((r) => r.status === 200)).toHaveLength(4)
    const refused = answers.filter((r) => r.status !== 200)
    expect(refused.every((r) => r.status === 409 && r.body.error?.code === 'room_full')).toBe(true)
    const stored = await readRoom(store(), keys, room.roomId)
    expect(stored && seatsTaken(stored.room, Date.now())).toBe(5)

    expect((await call(b, 'POST', '/v1/rooms/nosuchroom/join', 'x')).body).toMatchObject({ error: { code: 'unknown_room' } })
    expect((await call(b, 'POST', '/v1/rooms/nosuchroom/join', 'x')).status).toBe(404)
    await updateRoom(store(), keys, room.roomId, (r) => ({ next: { ...r, state: 'closed' } }))
    const closed = await eventually('closed seen', async () => {
      const r = await call(a, 'POST', `/v1/rooms/${room.roomId}/join`, 'late')
      return r.status === 410 ? r : undefined
    })
    expect(closed.body.error?.code).toBe('room_closed')
  })

  it('keeps a player in one room: a second seat or a live session elsewhere is refused', async () => {
    const r1 = await createRoom(a, 'host1')
    const r2 = await createRoom(b, 'host2')
    expect((await call(a, 'POST', `/v1/rooms/${r1.roomId}/join`, 'dana')).status).toBe(200)
    // Asked before its cache has the seat, B would reserve one in r2 as well (and then refuse r1).
    await eventually('B sees dana\'s seat', () => b.view.roomsWithSeatFor('dana').some((r) => r.id === r1.roomId))
    const again = await call(b, 'POST', `/v1/rooms/${r2.roomId}/join`, 'dana')
    expect(again.status).toBe(409)
    expect(again.body.error?.code).toBe('already_playing')
    // Joining the same room again just refreshes the reservation.
    expect((await call(b, 'POST', `/v1/rooms/${r1.roomId}/join`, 'dana')).status).toBe(200)

    // The worker accepts erin in r2 and records her session: she cannot create or join elsewhere.
    const lease = await store().grantLease(5)
    await writeSession(store(), keys, { playerId: 'erin', worldId: r2.roomId, workerId: r2.workerId, since: Date.now() }, lease.id)
    await eventually('both gateways count erin online', async () =>
      (await call<{ online: number }>(a, 'GET', '/v1/players/online')).body.online === 1 && (await call<{ online: number }>(b, 'GET', '/v1/players/online')).body.online === 1)
    expect((await call(a, 'POST', `/v1/rooms/${r1.roomId}/join`, 'erin')).body.error?.code).toBe('already_playing')
    expect((await call(b, 'POST', '/v1/rooms', 'erin', { mode: 'duel', maxPlayers: 2 })).body.error?.code).toBe('already_playing')
    await endSession(store(), keys, 'erin', r2.workerId)
    await eventually('erin may join once her session ended', async () => (await call(a, 'POST', `/v1/rooms/${r1.roomId}/join`, 'erin')).status === 200)
    await lease.revoke()
  })

  it('removes a room empty past its grace period, and its worker\'s load drops', async () => {
    const room = await createRoom(a, 'frank', 2)
    await eventually('the worker reports the room', () =>
      coordinator.loads.get(room.workerId)?.report.partitions.some((p) => p.partition?.worldId === room.roomId))
    // The worker admits frank, then frank leaves: the room is empty from then on.
    expect(await occupySeat(store(), keys, room.roomId, 'frank', Date.now())).toMatchObject({ ok: true })
    expect(await occupySeat(store(), keys, room.roomId, 'stranger', Date.now())).toMatchObject({ ok: true })
    expect(await occupySeat(store(), keys, room.roomId, 'third', Date.now())).toMatchObject({ ok: false, code: 'room_full' })
    await releaseSeat(store(), keys, room.roomId, 'stranger', Date.now())
    const left = await releaseSeat(store(), keys, room.roomId, 'frank', Date.now())
    expect(left.ok && left.room.emptySince).toBeGreaterThan(0)
    const goneAt = await eventually('the room is removed', async () => ((await store().get(keys.room(room.roomId))) ? undefined : Date.now()), 10_000, 20)
    expect(goneAt - (left.ok ? (left.room.emptySince ?? 0) : 0)).toBeGreaterThanOrEqual(GRACE_MS)
    expect(await store().get(keys.world(room.roomId))).toBeUndefined()
    expect(await store().get(keys.worldMap(room.roomId))).toBeUndefined()
    expect(await store().get(keys.tombstone(room.roomId))).toBeDefined()
    await eventually('the worker no longer reports the room', () =>
      coordinator.loads.get(room.workerId)?.report.partitions.every((p) => p.partition?.worldId !== room.roomId))
    expect((await call(b, 'POST', `/v1/rooms/${room.roomId}/join`, 'gina')).status).toBe(404)

    // A room whose creator never connected goes too, once the reservation lapsed and the grace passed.
    const unused = await call<RoomGrant>(b, 'POST', '/v1/rooms', 'nobody', { mode: 'duel', maxPlayers: 2 })
    expect(unused.status).toBe(201)
    await eventually('the unused room is removed', async () => !(await store().get(keys.room(unused.body.roomId))), 10_000)
  })

  async function queue(gw: Gateway, player: string, body: Record<string, unknown>): Promise<string> {
    const res = await call<MatchTicketStatus>(gw, 'POST', '/v1/matchmaking/tickets', player, body)
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    return res.body.ticketId
  }
  const poll = (gw: Gateway, player: string, ticket: string, wait = 5_000) =>
    call<MatchTicketStatus>(gw, 'GET', `/v1/matchmaking/tickets/${ticket}?wait=${wait}`, player)

  it('matches players queued on both gateways into rooms of the right size; lobby → match → lobby works', async () => {
    const lobby = await createRoom(a, 'lobbyhost', 10, { mode: 'lobby' })
    // Four players in the lobby (the worker admitted them), then all queue for duels on either gateway.
    const lease = await store().grantLease(5)
    const players = ['m1', 'm2', 'm3', 'm4']
    for (const p of players) {
      expect((await call(p === 'm1' || p === 'm3' ? a : b, 'POST', `/v1/rooms/${lobby.roomId}/join`, p)).status).toBe(200)
      await occupySeat(store(), keys, lobby.roomId, p, Date.now())
      await writeSession(store(), keys, { playerId: p, worldId: lobby.roomId, workerId: lobby.workerId, since: Date.now() }, lease.id)
    }
    const odd = await queue(a, 'loner', { mode: 'duel', size: 2, attributes: { region: 'mars' } })
    const tickets = await Promise.all(players.map((p, i) => queue(i % 2 ? b : a, p, { mode: 'duel', size: 2, attributes: { region: 'eu' } })))
    const polled = await Promise.all(players.map((p, i) => poll(i < 2 ? b : a, p, tickets[i] as string)))
    for (const r of polled) expect(r.body.state, JSON.stringify(r.body)).toBe('matched')
    const rooms = new Map<string, string[]>()
    for (const [i, r] of polled.entries()) rooms.set(r.body.match?.roomId ?? '', [...(rooms.get(r.body.match?.roomId ?? '') ?? []), players[i] as string])
    expect([...rooms.values()].map((m) => m.length).sort()).toEqual([2, 2])
    for (const roomId of rooms.keys()) {
      const stored = await readRoom(store(), keys, roomId)
      expect(stored?.room).toMatchObject({ maxPlayers: 2, mode: 'duel', state: 'open' })
      expect(Object.keys(stored?.room.seats ?? {}).sort()).toEqual([...(rooms.get(roomId) ?? [])].sort())
    }
    // The player with other attributes is still waiting.
    expect((await poll(b, 'loner', odd, 0)).body.state).toBe('queued')
    // Another player cannot read someone's ticket.
    expect((await poll(a, 'm2', tickets[0] as string, 0)).status).toBe(404)

    // m1 plays the match (the worker moves the session), then goes back to the lobby.
    const m1Room = polled[0]?.body.match?.roomId as string
    await releaseSeat(store(), keys, lobby.roomId, 'm1', Date.now())
    await occupySeat(store(), keys, m1Room, 'm1', Date.now())
    await writeSession(store(), keys, { playerId: 'm1', worldId: m1Room, workerId: polled[0]?.body.match?.workerId as string, since: Date.now() }, lease.id)
    await eventually('A sees m1 in the match', async () => (await call(a, 'POST', `/v1/rooms/${lobby.roomId}/join`, 'm1')).status === 409)
    await releaseSeat(store(), keys, m1Room, 'm1', Date.now())
    await endSession(store(), keys, 'm1', polled[0]?.body.match?.workerId as string)
    await eventually('m1 is back in the lobby', async () => (await call(a, 'POST', `/v1/rooms/${lobby.roomId}/join`, 'm1')).status === 200)
    await lease.revoke()
  })

  it('resolves tickets over server-sent events, cancels on DELETE, and expires queued tickets', async () => {
    const t1 = await queue(a, 's1', { mode: 'sse', size: 2 })
    const res = await fetch(`${b.address}/v1/matchmaking/tickets/${t1}/events`, { headers: { 'x-player-id': 's1' } })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const events: MatchTicketStatus[] = []
    const reading = (async () => {
      for await (const item of readSse(res.body as ReadableStream<Uint8Array>)) if (item.kind === 'event') events.push(JSON.parse(item.data) as MatchTicketStatus)
    })()
    await eventually('the first event', () => events.length >= 1)
    const t2 = await queue(b, 's2', { mode: 'sse', size: 2 })
    await reading
    expect(events[0]?.state).toBe('queued')
    expect(events.at(-1)).toMatchObject({ state: 'matched', match: { workerUrl: 'http://127.0.0.1:1' } })
    expect((await poll(a, 's2', t2, 1_000)).body.state).toBe('matched')

    const t3 = await queue(a, 'c1', { mode: 'cancel', size: 2 })
    expect((await call(b, 'DELETE', `/v1/matchmaking/tickets/${t3}`, 'c1')).status).toBe(204)
    const t4 = await queue(b, 'c2', { mode: 'cancel', size: 2 })
    expect((await poll(a, 'c2', t4, 300)).body.state).toBe('queued')
    expect((await poll(a, 'c1', t3, 0)).status).toBe(404)
    // Queued tickets expire after the TTL (3 s here); a long poll ends with `expired`.
    const expired = await poll(a, 'c2', t4, 5_000)
    expect(expired.body.state).toBe('expired')
  })

  it('joins a world at the owner of the partition at the spawn point', async () => {
    await store().put(keys.rebalancingPaused(), 'true')
    const bounds = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
    const map = createMap('big', bounds, 'w1')
    map.root = {
      kind: 'split', id: 'p0', axis: 'x', at: 500,
      low: { kind: 'leaf', id: 'p1', owner: 'w1', epoch: 3 }, high: { kind: 'leaf', id: 'p2', owner: 'w2', epoch: 4 },
    }
    map.nextId = 3
    await store().put(keys.world('big'), JSON.stringify({ id: 'big', kind: 'world', bounds, labels: {}, createdAt: Date.now() }))
    await store().put(keys.worldMap('big'), encodeMap(map))
    const east = await eventually('world known', async () => {
      const r = await call<RoomGrant>(b, 'POST', '/v1/worlds/big/join', 'wa', { spawn: { x: 900, y: 10 } })
      return r.status === 200 ? r.body : undefined
    })
    expect(east).toMatchObject({ workerId: 'w2', partitionId: 'p2', epoch: 4, worldId: 'big' })
    const west = await call<RoomGrant>(a, 'POST', '/v1/worlds/big/join', 'wb', { spawn: { x: 100, y: 10 } })
    expect(west.body).toMatchObject({ workerId: 'w1', partitionId: 'p1', epoch: 3 })
    // Without a spawn the point follows from the player id: the same answer every time.
    const d1 = await call<RoomGrant & { spawn: { x: number } }>(a, 'POST', '/v1/worlds/big/join', 'wc')
    const d2 = await call<RoomGrant & { spawn: { x: number } }>(b, 'POST', '/v1/worlds/big/join', 'wc')
    expect(d1.status, JSON.stringify(d1.body)).toBe(200)
    expect(d1.body.spawn).toEqual(d2.body.spawn)
    expect(d1.body.workerId).toBe(d1.body.spawn.x < 500 ? 'w1' : 'w2')
    expect((await call(a, 'POST', '/v1/worlds/nowhere/join', 'wa')).body.error?.code).toBe('unknown_world')
    expect((await call(a, 'POST', '/v1/worlds/big/join', 'wa', { spawn: { x: 5000, y: 1 } })).body.error?.code).toBe('malformed')
  })

  it('answers no_capacity with the workers wanted when no worker can take a room, and leaves no record behind', async () => {
    const res = await call(a, 'POST', '/v1/rooms', 'pat', { mode: 'duel', maxPlayers: 2, region: 'mars' })
    expect(res.status).toBe(503)
    expect(res.body.error).toMatchObject({ code: 'no_capacity', workersWanted: 1 })
    expect(res.body.error?.message).toMatch(/region/)
    expect((await store().range(keys.rooms())).kvs).toEqual([])
    // The player holds no seat anywhere: a room elsewhere is fine.
    expect((await call(b, 'POST', '/v1/rooms', 'pat', { mode: 'duel', maxPlayers: 2 })).status).toBe(201)
  })

  it('answers bad bodies, oversized bodies and unknown routes with stable codes', async () => {
    const bad = async (body: unknown) => call(a, 'POST', '/v1/rooms', 'v', body)
    for (const body of [{}, { mode: 'duel', maxPlayers: 0 }, { mode: 'duel', maxPlayers: 'many' }, { mode: 'duel', maxPlayers: 2, extra: 1 }, '{not json']) {
      const r = await bad(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error?.code).toBe('malformed')
    }
    const huge = await bad({ mode: 'x'.repeat(40_000), maxPlayers: 2 })
    expect(huge).toMatchObject({ status: 413, body: { error: { code: 'too_large' } } })
    expect((await call(a, 'GET', '/v1/nothing', 'v')).body.error?.code).toBe('not_found')
    expect((await call(a, 'POST', '/v1/rooms/x/join', 'bad id with spaces')).body.error?.code).toBe('malformed')
    const openapi = await call<{ paths: Record<string, unknown> }>(a, 'GET', '/v1/openapi.json')
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/rooms', '/v1/rooms/{id}/join', '/v1/worlds/{id}/join', '/v1/matchmaking/tickets']))
    expect((await call(a, 'GET', '/readyz')).status).toBe(200)
  })
})
