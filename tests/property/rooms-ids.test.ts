/**
 * Room ids never collide: concurrent creates through several room services (as several gateways)
 * drawing ids from a tiny pool, so collisions are frequent, each end with a distinct room or a clear
 * `busy` refusal, never with two creators holding one id.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { readRoom } from '../../core/rooms.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import { GatewayError } from '../../gateway/errors.ts'
import { GrantSigner } from '../../gateway/grants.ts'
import { RoomService } from '../../gateway/room-service.ts'
import { GatewayView } from '../../gateway/view.ts'

const keys = scopedKeys('/ids/')

describe('room ids', () => {
  it('are unique under concurrent creates with colliding id generators', async () => {
    const { privateKey } = await generateTicketKeys()
    const signer = new GrantSigner({ privateKey, kid: 'k' }, 30)
    await fc.assert(fc.asyncProperty(
      fc.scheduler(), fc.integer({ min: 2, max: 10 }), fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 2, maxLength: 12 }),
      async (s, pool, seeds) => {
        const store = new MemoryStore()
        const view = new GatewayView(store, keys, silentLogger())
        const results = await s.waitFor(Promise.all(seeds.map(async (seed, i) => {
          let x = seed
          // Each "gateway" draws from the same small pool in its own order.
          const newId = () => `id${(x = (x * 1103515245 + 12345) % 2 ** 31) % pool}`
          const rooms = new RoomService({
            store, keys, view, signer, logger: silentLogger(), policy: 'move', seatReservationMs: 1_000, emptyRoomGraceMs: 1_000, newId,
            placement: { place: () => s.schedule(Promise.resolve({ placed: true as const, workerId: 'w', clientUrl: 'http://w', partitionId: 'p0', epoch: 1, roomRecordRevision: 0 })) },
          })
          try {
            return (await rooms.create([`player${i}`], { mode: 'm', maxPlayers: 2 })).room
          } catch (err) {
            if (err instanceof GatewayError && err.code === 'busy') return undefined
            throw err
          }
        })))
        const created = results.filter((r) => r !== undefined)
        const ids = created.map((r) => r.id)
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids.length).toBeLessThanOrEqual(pool)
        // Each room belongs to the one creator that got it.
        for (const room of created) expect(Object.keys((await readRoom(store, keys, room.id))?.room.seats ?? {})).toEqual(Object.keys(room.seats))
        const { kvs } = await store.range(keys.rooms())
        expect(kvs.length).toBe(ids.length)
        await store.close()
      },
    ), { numRuns: 100 })
  })
})
