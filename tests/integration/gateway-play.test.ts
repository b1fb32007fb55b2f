/**
 * The room flow end to end with real parts: a coordinator, a real worker serving geckos.io, two
 * gateways, and players using the player library. A room created on gateway A is joined through
 * gateway B; both players play on the worker and see each other; the worker turns their seat
 * reservations into occupied seats and writes their sessions; a third player is refused because the
 * room is full; leaving frees the seat and ends the session. A world join works the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import { TesseraClient, TesseraClientError } from '../../client/index.ts'
import { installNodeWebRTC } from '../../client/polyfill-node.ts'
import { silentLogger } from '../../core/log.ts'
import { readRoom } from '../../core/rooms.ts'
import { readSession } from '../../core/sessions.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { Gateway } from '../../gateway/gateway.ts'
import { gatewayOptions } from '../../gateway/options.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { playerRecords } from '../../worker/player-records.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'

const store = new MemoryStore()
const keys = scopedKeys('/play/')
let coordinator: Coordinator
let transport: ClientTransport<TicketClaims>
let worker: Worker
const gateways: Gateway[] = []
const clients: TesseraClient[] = []

beforeAll(async () => {
  installNodeWebRTC()
  coordinator = new Coordinator(store, keys, coordinatorOptions({ id: 'c', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: 100, logLevel: 'silent' }), silentLogger())
  await coordinator.start()
  const { publicKey, privateKey } = await generateTicketKeys()
  transport = await ClientTransport.start<TicketClaims>({ authorize: ticketAdmission(() => new Map([['k', publicKey]]), (id) => id === 'w1') })
  worker = new Worker({
    store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}),
        // The default interest radius (100) is far smaller than a room: room-mates must see each other anyway.
    options: workerOptions({ id: 'w1', port: 0, grpcPort: 0, opsPort: 0, reportIntervalMs: 200, logLevel: 'silent' }),
    onPlayer: playerRecords({ store, keys, workerId: 'w1', logger: silentLogger() }),
  })
  await worker.start()
  for (const id of ['ga', 'gb']) {
    const g = new Gateway(store, keys, gatewayOptions({ id, port: 0, coordinatorAddress: coordinator.addresses.grpc, logLevel: 'silent' }), silentLogger(), {
      signingKey: { privateKey, kid: 'k' },
    })
    await g.start()
    gateways.push(g)
  }
  await eventually('the coordinator sees the worker', () => coordinator.view.liveWorkers().length === 1)
}, 60_000)

afterAll(async () => {
  for (const c of clients) c.close()
  for (const g of gateways) await g.stop()
  await worker.stop()
  await transport.close()
  await coordinator.stop()
  await store.close()
})

function player(): TesseraClient {
  const c = new TesseraClient({ reconnect: false })
  clients.push(c)
  return c
}

describe('players through gateways onto a worker', () => {
  let roomId = ''

  it('a room created on one gateway is joined through another, and both players see each other', async () => {
    const [a, b] = gateways as [Gateway, Gateway]
    const alice = player()
    const joined = await alice.join({ gateway: a.address, playerId: 'alice', create: { mode: 'duel', maxPlayers: 2 } })
    roomId = joined.worldId
    const bob = player()
    await bob.join({ gateway: b.address, playerId: 'bob', room: roomId })

    const aliceSelf = alice.self as number
    const bobSelf = bob.self as number
    await eventually('alice sees bob', () => alice.entity(bobSelf) !== undefined)
    await eventually('bob sees alice', () => bob.entity(aliceSelf) !== undefined)

    const room = await eventually('both seats occupied', async () => {
      const r = (await readRoom(store, keys, roomId))?.room
      return r?.seats['alice']?.kind === 'occupied' && r.seats['bob']?.kind === 'occupied' ? r : undefined
    })
    expect(room.workerId).toBe('w1')
    expect(await readSession(store, keys, 'alice')).toMatchObject({ worldId: roomId, workerId: 'w1' })
  })

  it('refuses a third player: the room is full', async () => {
    const carol = player()
    const attempt = carol.join({ gateway: (gateways[0] as Gateway).address, playerId: 'carol', room: roomId })
    await expect(attempt).rejects.toBeInstanceOf(TesseraClientError)
    await expect(attempt).rejects.toMatchObject({ code: 'room_full', retryable: false })
  })

  it('frees the seat and ends the session when a player leaves', async () => {
    const alice = clients[0] as TesseraClient
    alice.close()
    await eventually('alice gone from the store', async () => {
      const r = (await readRoom(store, keys, roomId))?.room
      return r?.seats['alice'] === undefined && (await readSession(store, keys, 'alice')) === undefined
    })
    expect((await readRoom(store, keys, roomId))?.room.seats['bob']?.kind).toBe('occupied')
  })

  it('places a player in a world at the owner of the partition at their spawn point', async () => {
    await store.put(keys.world('lobby'), JSON.stringify({ id: 'lobby', kind: 'world', bounds: { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }, labels: {}, createdAt: Date.now() }))
    await eventually('lobby assigned', () => worker.partitions().some((p) => p.startsWith('lobby:')))
    const dave = player()
    const accepted = await dave.join({ gateway: (gateways[1] as Gateway).address, playerId: 'dave', world: 'lobby', spawn: { x: 500, y: 500 } })
    expect(accepted.worldId).toBe('lobby')
    await eventually('dave receives snapshots with himself in them', () => dave.entity(dave.self as number) !== undefined)
    expect(await eventually('dave has a session', () => readSession(store, keys, 'dave'))).toMatchObject({ worldId: 'lobby', workerId: 'w1' })
  })
})
