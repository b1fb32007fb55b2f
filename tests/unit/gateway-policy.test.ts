/**
 * One player, one place: the session policy (`refuse` or `move`) against live sessions and seats
 * held elsewhere, on a memory store with the gateway's real caches and a stand-in placement.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { readRoom } from '../../core/rooms.ts'
import { writeSession } from '../../core/sessions.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import { GatewayError } from '../../gateway/errors.ts'
import { GrantSigner } from '../../gateway/grants.ts'
import { RoomService } from '../../gateway/room-service.ts'
import type { SessionPolicy } from '../../gateway/player-policy.ts'
import { GatewayView } from '../../gateway/view.ts'
import { eventually } from '../helpers/eventually.ts'

const keys = scopedKeys('/policy/')

describe.each(['refuse', 'move'] as const)('session policy %s', (policy: SessionPolicy) => {
  let store: MemoryStore
  let view: GatewayView
  let rooms: RoomService

  beforeEach(async () => {
    store = new MemoryStore()
    view = new GatewayView(store, keys, silentLogger())
    await view.start()
    const { privateKey } = await generateTicketKeys()
    rooms = new RoomService({
      store, keys, view, logger: silentLogger(), policy, seatReservationMs: 15_000, emptyRoomGraceMs: 30_000,
      signer: new GrantSigner({ privateKey, kid: 'k' }, 30),
      placement: { place: async () => ({ placed: true, workerId: 'w1', clientUrl: 'http://w1', partitionId: 'p0', epoch: 1, roomRecordRevision: 0 }) },
    })
  })
  afterEach(async () => {
    await view.stop()
    await store.close()
  })

  const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (err: unknown) => (err instanceof GatewayError ? err.code : String(err)))

  it('handles a seat held in another room', async () => {
    const r1 = await rooms.createAndGrant('host1', { mode: 'm', maxPlayers: 4 })
    const r2 = await rooms.createAndGrant('host2', { mode: 'm', maxPlayers: 4 })
    await rooms.join('p', r1.roomId)
    await eventually('the cache sees the seat', () => view.roomsWithSeatFor('p').length === 1)
    const second = await outcome(rooms.join('p', r2.roomId))
    if (policy === 'refuse') {
      expect(second).toBe('already_playing')
    } else {
      expect(second).toBe('ok')
      // Moving drops the reservation left behind.
      expect((await readRoom(store, keys, r1.roomId))?.room.seats.p).toBeUndefined()
    }
    // The room the player already holds a seat in is never "elsewhere".
    expect(await outcome(rooms.join('p', policy === 'refuse' ? r1.roomId : r2.roomId))).toBe('ok')
  })

  it('handles a live session in another room', async () => {
    const r1 = await rooms.createAndGrant('host1', { mode: 'm', maxPlayers: 4 })
    const lease = await store.grantLease(10)
    await writeSession(store, keys, { playerId: 'q', worldId: 'elsewhere', workerId: 'w2', since: 0 }, lease.id)
    await eventually('the cache sees the session', () => view.session('q'))
    expect(await outcome(rooms.join('q', r1.roomId))).toBe(policy === 'refuse' ? 'already_playing' : 'ok')
    expect(await outcome(rooms.createAndGrant('q', { mode: 'm', maxPlayers: 2 }))).toBe(policy === 'refuse' ? 'already_playing' : 'ok')
    await lease.revoke()
    await eventually('the session ended', () => view.session('q') === undefined)
    expect(await outcome(rooms.createAndGrant('q', { mode: 'm', maxPlayers: 2 }))).toBe('ok')
  })
})
