/**
 * The player library's entity events: snapshots become dequantised added/updated/removed events,
 * and the first snapshot of a new session is reconciled against what game code already has.
 */
import { describe, expect, it } from 'vitest'
import { EntitySet } from '../../client/entity-set.ts'
import { TesseraClient } from '../../client/client.ts'
import type { EntityView } from '../../client/index.ts'
import { FakeConnection, wire } from '../helpers/fake-connection.ts'
import { eventually } from '../helpers/eventually.ts'

describe('entity set', () => {
  it('follows added, updated and removed entities, dequantised', () => {
    const set = new EntitySet()
    const first = set.apply({ added: [wire(1, 10, 20, { heading: 64, speed: 32 }), wire(2, 5, 5)], updated: [], removed: [] }, true)
    expect(first.added.map((e) => e.id)).toEqual([1, 2])
    expect(first.added[0]).toEqual({ id: 1, x: 10, y: 20, heading: Math.PI / 2, speed: 2, kind: 1, flags: 0, hp: 100 })
    const next = set.apply({ added: [wire(3, 0, 0)], updated: [wire(1, 11, 20)], removed: [2] }, false)
    expect(next).toMatchObject({ added: [{ id: 3 }], updated: [{ id: 1, x: 11 }], removed: [2] })
    expect([...set.values()].map((e) => e.id).sort()).toEqual([1, 3])
  })

  it('reconciles a fresh session: kept entities update, vanished ones are removed, nothing is added twice', () => {
    const set = new EntitySet()
    set.apply({ added: [wire(1, 1, 1), wire(2, 2, 2), wire(3, 3, 3)], updated: [], removed: [] }, true)
    const changes = set.apply({ added: [wire(2, 2, 2), wire(3, 4, 3), wire(7, 9, 9)], updated: [], removed: [] }, true)
    expect(changes.removed).toEqual([1])
    expect(changes.updated.map((e) => e.id)).toEqual([3])
    expect(changes.added.map((e) => e.id)).toEqual([7])
    expect(set.clear().sort()).toEqual([2, 3, 7])
    expect(set.size).toBe(0)
  })
})

describe('TesseraClient entity events', () => {
  it('turns snapshots into entity events and reports every entity removed on close', async () => {
    const conn = new FakeConnection('t')
    const client = new TesseraClient({ connect: async () => conn, reconnect: false })
    const log: string[] = []
    client.on('entityAdded', (e: EntityView) => log.push(`+${e.id}@${e.x}`))
    client.on('entityUpdated', (e: EntityView) => log.push(`~${e.id}@${e.x}`))
    client.on('entityRemoved', (e: EntityView) => log.push(`-${e.id}@${e.x}`))
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket: 'not-a-jwt' })
    await eventually('the session listens', () => conn.listening)
    conn.join(5)
    await expect(joining).resolves.toMatchObject({ entityId: 5, tickRate: 20 })
    expect(client.self).toBe(5)
    conn.snapshot(11, [wire(5, 1, 1), wire(6, 2, 2)])
    conn.snapshot(12, [wire(5, 1.5, 1), wire(6, 2, 2)])
    conn.snapshot(14, [wire(5, 2, 1), wire(8, 3, 3)])
    conn.snapshot(13, [wire(5, 9, 9)]) // late: stale, ignored
    expect(log).toEqual(['+5@1', '+6@2', '~5@1.5', '-6@2', '+8@3', '~5@2'])
    expect(client.stats()).toMatchObject({ snapshots: 3, staleSnapshots: 1, tickGaps: 1 })
    expect(client.selfPosition()).toEqual({ x: 2, y: 1 })
    client.close()
    expect(client.state).toBe('closed')
    expect(log.slice(6).sort()).toEqual(['-5@2', '-8@3'])
    expect([...client.entities()]).toEqual([])
  })

  it('with trackEntities off, emits no entity events and keeps no entities, yet knows where its own is', async () => {
    const conn = new FakeConnection('t')
    const client = new TesseraClient({ connect: async () => conn, reconnect: false, trackEntities: false })
    const events: string[] = []
    for (const kind of ['entityAdded', 'entityUpdated', 'entityRemoved'] as const) client.on(kind, (e: EntityView) => events.push(`${kind} ${e.id}`))
    const ticks: number[] = []
    client.on('snapshot', ({ tick }) => ticks.push(tick))
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket: 'not-a-jwt' })
    await eventually('the session listens', () => conn.listening)
    conn.join(5)
    await joining
    conn.snapshot(11, [wire(5, 1, 1), wire(6, 2, 2)])
    conn.snapshot(12, [wire(5, 1.5, 1)])
    expect(ticks).toEqual([11, 12])
    expect(events).toEqual([])
    expect([...client.entities()]).toEqual([])
    expect(client.selfPosition()).toEqual({ x: 1.5, y: 1 })
    client.close()
    expect(events).toEqual([])
  })
})
