/**
 * Seat accounting under every interleaving fast-check can find: concurrent reservations, occupations
 * and releases against a real MemoryStore (each store call is released by fast-check's scheduler in
 * a random order) never let a room hold more than `maxPlayers` seats, counting reservations.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createRoomRecord, decodeRoom, occupiedSeats, occupySeat, readRoom, releaseSeat, reserveSeat, seatsTaken } from '../../core/rooms.ts'
import type { RoomRecord, SeatResult } from '../../core/rooms.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { ClusterStore, TxnRequest } from '../../core/store/types.ts'

const keys = scopedKeys('/seats/')
const RESERVATION_MS = 10_000

/**
 * A store whose reads and transactions run when the scheduler says. It checks that every write
 * replaced the latest version (no lost update), and hands every room written to `onWrite`.
 */
async function scheduledStore(inner: MemoryStore, s: fc.Scheduler, onWrite: (room: RoomRecord) => void): Promise<ClusterStore> {
  let latest = (await inner.get(keys.room('r')))?.modRevision ?? 0
  const store: ClusterStore = Object.create(inner) as ClusterStore
  store.get = (key) => s.schedule(Promise.resolve(), `get`).then(() => inner.get(key))
  store.txn = async (req: TxnRequest) => {
    await s.schedule(Promise.resolve(), 'txn')
    const res = await inner.txn(req)
    if (res.succeeded) {
      const based = req.compare.find((c) => c.target === 'modRevision')?.value
      expect(based, 'a write must be based on the latest version').toBe(latest)
      latest = res.revision
      for (const op of req.success) if (op.type === 'put') onWrite(decodeRoom(op.key, op.value))
    }
    return res
  }
  return store
}

function openRoom(maxPlayers: number): RoomRecord {
  return { id: 'r', mode: 'm', maxPlayers, labels: {}, state: 'open', workerId: 'w', clientUrl: 'http://w', createdAt: 0, seats: {} }
}

describe('seats under concurrent writers', () => {
  it('admit exactly min(players, maxPlayers) concurrent joiners at one instant', async () => {
    await fc.assert(fc.asyncProperty(
      fc.scheduler(), fc.integer({ min: 1, max: 4 }), fc.array(fc.constantFrom('reserve', 'occupy'), { minLength: 1, maxLength: 8 }),
      async (s, maxPlayers, ops) => {
        const inner = new MemoryStore()
        await createRoomRecord(inner, keys, openRoom(maxPlayers))
        const store = await scheduledStore(inner, s, (room) => expect(seatsTaken(room, 0)).toBeLessThanOrEqual(maxPlayers))
        const results: SeatResult[] = await s.waitFor(Promise.all(ops.map((op, i) =>
          op === 'reserve' ? reserveSeat(store, keys, 'r', `p${i}`, 0, RESERVATION_MS) : occupySeat(store, keys, 'r', `p${i}`, 0))))
        const admitted = results.filter((r) => r.ok).length
        expect(results.every((r) => r.ok || r.code === 'room_full')).toBe(true)
        expect(admitted).toBe(Math.min(ops.length, maxPlayers))
        const final = await readRoom(inner, keys, 'r')
        expect(final && seatsTaken(final.room, 0)).toBe(admitted)
        await inner.close()
      },
    ), { numRuns: 150 })
  })

  it('never hold more than maxPlayers seats while players reserve, occupy, leave and reservations lapse', async () => {
    const op = fc.record({
      kind: fc.constantFrom('reserve', 'occupy', 'release'),
      player: fc.integer({ min: 0, max: 5 }),
      at: fc.integer({ min: 0, max: 30_000 }),
    })
    await fc.assert(fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 3 }), fc.array(op, { minLength: 1, maxLength: 10 }), async (s, maxPlayers, ops) => {
      const inner = new MemoryStore()
      await createRoomRecord(inner, keys, openRoom(maxPlayers))
      const written: RoomRecord[] = []
      const store = await scheduledStore(inner, s, (room) => written.push(room))
      const results = await s.waitFor(Promise.all(ops.map(async (o) => {
        const player = `p${o.player}`
        const res = o.kind === 'reserve'
          ? await reserveSeat(store, keys, 'r', player, o.at, RESERVATION_MS)
          : o.kind === 'occupy' ? await occupySeat(store, keys, 'r', player, o.at) : await releaseSeat(store, keys, 'r', player, o.at)
        // Checked against the writer's own clock: what it decided must hold in what it wrote.
        if (res.ok && res.changed) expect(seatsTaken(res.room, o.at)).toBeLessThanOrEqual(maxPlayers)
        return res
      })))
      expect(results.every((r) => r.ok || r.code === 'room_full')).toBe(true)
      for (const room of written) expect(occupiedSeats(room)).toBeLessThanOrEqual(maxPlayers)
      await inner.close()
    }), { numRuns: 150 })
  })
})
