import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { createRoomRecord, readRoom, reserveSeat } from '../../core/rooms.ts'
import { readSession } from '../../core/sessions.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { playerRecords } from '../../worker/player-records.ts'
import { eventually } from '../helpers/eventually.ts'

const store = new MemoryStore()
const keys = scopedKeys('/pr/')
afterAll(() => store.close())

const claims = (playerId: string, roomId: string | null): TicketClaims => ({
  playerId, worldId: roomId ?? 'lobby', workerId: 'w1', partitionId: roomId ? null : 'p3', roomId, standby: false, issuer: null,
  ticketId: 't', issuedAt: 0, expiresAt: 0,
})

describe('a worker keeping its players in the store', () => {
  const records = playerRecords({ store, keys, workerId: 'w1', logger: silentLogger() })

  it('turns the reserved seat into an occupied one and writes the session under the worker lease', async () => {
    const lease = await store.grantLease(30)
    await store.put(keys.worker('w1'), '{}', { lease: lease.id })
    await createRoomRecord(store, keys, { id: 'r1', mode: 'duel', maxPlayers: 2, labels: {}, state: 'open', workerId: 'w1', createdAt: 0, seats: {} })
    expect((await reserveSeat(store, keys, 'r1', 'alice', Date.now())).ok).toBe(true)

    records('joined', claims('alice', 'r1'))
    await eventually('seat occupied', async () => (await readRoom(store, keys, 'r1'))?.room.seats['alice']?.kind === 'occupied')
    const session = await eventually('session', () => readSession(store, keys, 'alice'))
    expect(session).toMatchObject({ playerId: 'alice', worldId: 'r1', workerId: 'w1' })
    expect((await store.get(keys.session('alice')))?.lease).toBe(lease.id)

    records('left', claims('alice', 'r1'))
    await eventually('session ended', async () => (await readSession(store, keys, 'alice')) === undefined)
    const room = (await readRoom(store, keys, 'r1'))?.room
    expect(room?.seats['alice']).toBeUndefined()
    expect(room?.emptySince).toBeGreaterThan(0)
  })

  it('records world players by partition, and never ends a session another worker took over', async () => {
    records('joined', claims('bob', null))
    await eventually('bob session', async () => (await readSession(store, keys, 'bob'))?.partitionId === 'p3')
    // Bob moved: the new worker rewrote his session. Our late "left" must not delete it.
    await store.put(keys.session('bob'), JSON.stringify({ playerId: 'bob', worldId: 'lobby', workerId: 'w2', since: 1 }))
    records('left', claims('bob', null))
    await new Promise((r) => setTimeout(r, 50))
    expect((await readSession(store, keys, 'bob'))?.workerId).toBe('w2')
  })
})
