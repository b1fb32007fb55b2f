/** Room placement: distributed vs packed, labels and region, and the typed no-capacity answer. */
import { describe, expect, it } from 'vitest'
import { placeRoom } from '../../coordinator/planner/placement.ts'
import type { WorkerInfo } from '../../coordinator/planner/types.ts'

const w = (id: string, extra: Partial<WorkerInfo> = {}): WorkerInfo => ({ id, capacity: 100, live: true, draining: false, labels: {}, ...extra })
const workers = [w('a'), w('b'), w('c', { capacity: 200 })]
const loads = { a: 60, b: 20, c: 100 }

describe('placeRoom', () => {
  it('distributed: the least utilised worker after placing the room', () => {
    // Utilisation after +10: a 0.7, b 0.3, c 0.55.
    expect(placeRoom(workers, loads, { cost: 10 }, 'distributed')).toEqual({ ok: true, workerId: 'b' })
  })

  it('packed: the busiest worker that still has room, so idle ones can go', () => {
    expect(placeRoom(workers, loads, { cost: 10 }, 'packed')).toEqual({ ok: true, workerId: 'a' })
    // a cannot take 40 within its 0.9 safety bound (60 + 40 > 90): the next busiest, c (140/200).
    expect(placeRoom(workers, loads, { cost: 40 }, 'packed')).toEqual({ ok: true, workerId: 'c' })
  })

  it('honours labels and region, and skips dead and draining workers', () => {
    const pool = [
      w('eu1', { labels: { game: 'chess' }, region: 'eu' }),
      w('us1', { labels: { game: 'chess' }, region: 'us' }),
      w('eu2', { labels: { game: 'go', region: 'eu' } }),
      w('eu3', { labels: { game: 'chess' }, region: 'eu', draining: true }),
      w('eu4', { labels: { game: 'chess' }, region: 'eu', live: false }),
    ]
    expect(placeRoom(pool, {}, { cost: 1, labels: { game: 'chess' }, region: 'eu' }, 'distributed')).toEqual({ ok: true, workerId: 'eu1' })
    expect(placeRoom(pool, {}, { cost: 1, labels: { game: 'go' }, region: 'eu' }, 'packed')).toEqual({ ok: true, workerId: 'eu2' })
    expect(placeRoom(pool, {}, { cost: 1, labels: { game: 'chess' } }, 'distributed')).toEqual({ ok: true, workerId: 'eu1' })
  })

  it('says no capacity, and how many workers it wants, when nothing fits', () => {
    const r = placeRoom(workers, { a: 90, b: 90, c: 180 }, { cost: 150 }, 'distributed')
    expect(r).toMatchObject({ ok: false, reason: 'no-capacity' })
    // 150 against a mean capacity of 133 at 0.9: two workers.
    expect(r.ok ? 0 : r.workersWanted).toBe(2)
  })

  it('says no matching worker when labels rule everyone out', () => {
    expect(placeRoom(workers, loads, { cost: 1, labels: { gpu: 'yes' } }, 'packed')).toMatchObject({ ok: false, reason: 'no-matching-worker', workersWanted: 1 })
  })

  it('breaks ties by worker id, so placement is deterministic', () => {
    expect(placeRoom([w('z'), w('m'), w('q')], {}, { cost: 5 }, 'distributed')).toEqual({ ok: true, workerId: 'm' })
    expect(placeRoom([w('z'), w('m'), w('q')], {}, { cost: 5 }, 'packed')).toEqual({ ok: true, workerId: 'm' })
  })
})
