/** The leader's room sweeper: what it removes, what it leaves, and that a deposed leader removes nothing. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RoomSweeper } from '../../coordinator/room-sweeper.ts'
import { silentLogger } from '../../core/log.ts'
import { createRoomRecord } from '../../core/rooms.ts'
import type { RoomRecord } from '../../core/rooms.ts'
import type { Leadership } from '../../core/store/election.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'

const keys = scopedKeys('/sweep/')
const NOW = 1_000_000

const room = (id: string, over: Partial<RoomRecord> = {}): RoomRecord => ({
  id, mode: 'm', maxPlayers: 4, labels: {}, state: 'open', workerId: 'w1', clientUrl: 'http://w1', createdAt: 0, seats: {}, emptyGraceMs: 1_000, ...over,
})

describe('room sweeper', () => {
  let store: MemoryStore
  let lead: Leadership

  beforeEach(async () => {
    store = new MemoryStore()
    const rev = await store.put(`${keys.leader()}/1`, 'me')
    lead = { key: `${keys.leader()}/1`, revision: rev, isLost: false, lost: new Promise(() => {}), resign: async () => {}, proclaim: async () => {} }
  })
  afterEach(async () => {
    await store.close()
  })

  async function withWorld(r: RoomRecord): Promise<void> {
    await createRoomRecord(store, keys, r)
    await store.put(keys.world(r.id), '{}')
    await store.put(keys.worldMap(r.id), '{}')
  }

  it('removes rooms empty past their grace and abandoned placements, with a tombstone, and keeps the rest', async () => {
    await withWorld(room('empty', { emptySince: NOW - 2_000 }))
    await withWorld(room('recent', { emptySince: NOW - 500 }))
    await withWorld(room('busy', { seats: { a: { kind: 'occupied', since: 0 } } }))
    await withWorld(room('reserved', { seats: { a: { kind: 'reserved', expiresAt: NOW + 1 } } }))
    await withWorld(room('stuck', { state: 'placing', createdAt: NOW - 31_000 }))
    const sweeper = new RoomSweeper({ store, keys, logger: silentLogger(), now: () => NOW })
    expect((await sweeper.sweep(lead)).sort()).toEqual(['empty', 'stuck'])
    for (const id of ['empty', 'stuck']) {
      expect(await store.get(keys.room(id))).toBeUndefined()
      expect(await store.get(keys.world(id))).toBeUndefined()
      expect(await store.get(keys.worldMap(id))).toBeUndefined()
      expect((await store.get(keys.tombstone(id)))?.lease).toBeDefined()
    }
    for (const id of ['recent', 'busy', 'reserved']) expect(await store.get(keys.worldMap(id))).toBeDefined()
  })

  it('removes nothing once its leadership is gone', async () => {
    await withWorld(room('empty', { emptySince: NOW - 2_000 }))
    await store.delete(lead.key)
    await store.put(lead.key, 'someone else')
    const sweeper = new RoomSweeper({ store, keys, logger: silentLogger(), now: () => NOW })
    expect(await sweeper.sweep(lead)).toEqual([])
    expect(await store.get(keys.room('empty'))).toBeDefined()
  })
})
