/** Seat decisions on room records: reservations, their expiry, occupying, releasing and when a room may go. */
import { describe, expect, it } from 'vitest'
import {
  decideOccupy, decideRelease, decideReserve, decodeRoom, emptySinceOf, hasSpace, holdsSeat, isSweepable, PLACING_TIMEOUT_MS, seatsTaken,
} from '../../core/rooms.ts'
import type { RoomRecord, SeatDecision } from '../../core/rooms.ts'
import { RecordError } from '../../core/records.ts'

const room = (over: Partial<RoomRecord> = {}): RoomRecord => ({
  id: 'r1', mode: 'duel', maxPlayers: 2, labels: {}, state: 'open', workerId: 'w1', clientUrl: 'http://w1', createdAt: 0, seats: {}, ...over,
})
const next = (d: SeatDecision): RoomRecord => {
  if (typeof d === 'string') throw new Error(`expected a change, got ${d}`)
  return d.next
}

describe('seats', () => {
  it('counts occupied seats and unexpired reservations, and refuses the seat after the last', () => {
    let r = next(decideReserve(room(), 'a', 1_000, 15_000))
    r = next(decideOccupy(r, 'a', 2_000))
    r = next(decideReserve(r, 'b', 3_000, 15_000))
    expect(seatsTaken(r, 3_000)).toBe(2)
    expect(hasSpace(r, 3_000)).toBe(false)
    expect(decideReserve(r, 'c', 3_000, 15_000)).toBe('room_full')
    // A player holding a seat may ask again: the reservation is refreshed, not doubled.
    const again = next(decideReserve(r, 'b', 4_000, 15_000))
    expect(again.seats.b).toEqual({ kind: 'reserved', expiresAt: 19_000 })
    expect(decideReserve(r, 'a', 4_000, 15_000)).toBe('unchanged')
  })

  it('frees a reservation that was not used in time', () => {
    const r = next(decideReserve(room({ maxPlayers: 1 }), 'a', 0, 15_000))
    expect(holdsSeat(r, 'a', 14_999)).toBe(true)
    expect(decideReserve(r, 'b', 14_999, 15_000)).toBe('room_full')
    const later = next(decideReserve(r, 'b', 15_000, 15_000))
    expect(Object.keys(later.seats)).toEqual(['b'])
  })

  it('admits a player without a reservation only while there is space', () => {
    const full = next(decideReserve(room({ maxPlayers: 1 }), 'a', 0, 15_000))
    expect(decideOccupy(full, 'b', 1)).toBe('room_full')
    expect(next(decideOccupy(full, 'a', 1)).seats.a).toEqual({ kind: 'occupied', since: 1 })
    // An expired reservation still admits its player if a seat is free.
    expect(next(decideOccupy(full, 'a', 20_000)).seats.a?.kind).toBe('occupied')
  })

  it('refuses closed, placing and unknown rooms distinctly', () => {
    expect(decideReserve(room({ state: 'closed' }), 'a', 0, 1)).toBe('room_closed')
    expect(decideReserve(room({ state: 'placing' }), 'a', 0, 1)).toBe('unknown_room')
    expect(decideOccupy(room({ state: 'closed' }), 'a', 0)).toBe('room_closed')
  })

  it('records when the room became empty', () => {
    let r = next(decideOccupy(room(), 'a', 10))
    r = next(decideOccupy(r, 'b', 20))
    r = next(decideRelease(r, 'a', 30))
    expect(r.emptySince).toBeUndefined()
    r = next(decideRelease(r, 'b', 40))
    expect(r.emptySince).toBe(40)
    expect(decideRelease(r, 'b', 50)).toBe('unchanged')
    expect(emptySinceOf(next(decideOccupy(r, 'c', 60)), 60)).toBeUndefined()
  })
})

describe('sweeping', () => {
  it('removes a room only once it has been empty for longer than its grace period', () => {
    const r = room({ emptySince: 1_000, emptyGraceMs: 500 })
    expect(isSweepable(r, 1_500)).toBe(false)
    expect(isSweepable(r, 1_501)).toBe(true)
    expect(isSweepable({ ...r, seats: { a: { kind: 'occupied', since: 0 } } }, 99_999)).toBe(false)
  })

  it('counts an unused reservation as presence until it lapses, then the grace starts', () => {
    const r = room({ createdAt: 0, emptyGraceMs: 1_000, seats: { a: { kind: 'reserved', expiresAt: 5_000 } } })
    expect(isSweepable(r, 5_500)).toBe(false)
    expect(emptySinceOf(r, 5_500)).toBe(5_000)
    expect(isSweepable(r, 6_001)).toBe(true)
  })

  it('uses the default grace of 30 s, and removes rooms stuck while placing', () => {
    expect(isSweepable(room({ emptySince: 0 }), 30_000)).toBe(false)
    expect(isSweepable(room({ emptySince: 0 }), 30_001)).toBe(true)
    expect(isSweepable(room({ state: 'placing' }), PLACING_TIMEOUT_MS)).toBe(false)
    expect(isSweepable(room({ state: 'placing' }), PLACING_TIMEOUT_MS + 1)).toBe(true)
  })
})

describe('room records', () => {
  it('decode well-formed records as written and refuse malformed ones with the key named', () => {
    const r = room({ seats: { a: { kind: 'reserved', expiresAt: 5 }, b: { kind: 'occupied', since: 1 } }, region: 'eu', epoch: 1 })
    expect(decodeRoom('k', JSON.stringify(r))).toEqual(r)
    // Missing defaults are filled in by the schema.
    const { labels: _l, seats: _s, ...bare } = room()
    expect(decodeRoom('k', JSON.stringify(bare))).toMatchObject({ labels: {}, seats: {} })
    for (const bad of ['nope', '{}', JSON.stringify({ ...r, maxPlayers: 0 }), JSON.stringify({ ...r, state: 'gone' }), JSON.stringify({ ...r, seats: { a: { kind: 'sitting' } } }), JSON.stringify({ ...r, labels: { a: 1 } })]) {
      expect(() => decodeRoom('rooms/x', bad)).toThrow(RecordError)
    }
  })
})
