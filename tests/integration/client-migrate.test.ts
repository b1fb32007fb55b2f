/**
 * A real `TesseraClient` (geckos.io in Node) walking across the border between two workers of one
 * world (p1 on wA, p2 on wB, both in this process on one ClientTransport), with no standby
 * connection opened ahead (`standbyNotices: false`, as for a move that comes as a surprise): the
 * old worker relays and sends `migrate`, the client switches to wB as the same entity, every input it sent is applied
 * exactly once and in order, it never sees its own entity removed nor any entity flicker out and
 * back, and the longest gap between snapshots while crossing is reported (and bounded). A
 * reconnection afterwards goes to the worker the player is on now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueTicket } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { TesseraClient } from '../../client/index.ts'
import type { ClientMigrated } from '../../client/index.ts'
import { installNodeWebRTC } from '../../client/polyfill-node.ts'
import type { ClientTransport } from '../../worker/transport/geckos-server.ts'
import type { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'
import { walkerGame } from './helpers/walker-game.ts'
import type { Walk, WalkerMessage } from './helpers/walker-game.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

/** Static NPCs: two near the border (seen from both sides, as ghosts), one deep on each side. */
const NPCS = [{ x: 96, y: 56 }, { x: 104, y: 44 }, { x: 60, y: 50 }, { x: 150, y: 50 }]

/** Input seqs the game applied, per player, in order (both workers are in this process). */
const applied = new Map<string, number[]>()

/** Players walk where their input points (30 units/s) from x = 85 in p1; NPCs stand still. */
const walker = walkerGame({ applied, spawnAt: (b) => ({ x: Math.min(Math.max(85, b.minX + 15), b.maxX - 15), y: 50 }) })

describe('a real client migrating between workers', () => {
  const world = new WorkerWorld('/client-migrate/', {
    game: () => walker,
    // The relay and `migrate` path: no standby connections opened ahead (client-standby has those).
    worker: { reportIntervalMs: 200, retireGraceMs: 5_000, standbyNotices: false },
    transport: { heartbeatTimeoutMs: 3000 },
  })
  let transport: ClientTransport<TicketClaims>
  let wA: Worker<Walk, WalkerMessage>
  let wB: Worker<Walk, WalkerMessage>
  let privateKey: CryptoKey
  const clients: TesseraClient[] = []

  beforeAll(async () => {
    installNodeWebRTC()
    await world.start()
    await world.createWorld()
    ;({ wA, wB, transport, ticketKey: privateKey } = world)
    for (const at of NPCS) (at.x < 100 ? wA.runner('w', 'p1') : wB.runner('w', 'p2'))?.sim.spawnNpc(at)
  })

  afterAll(async () => {
    for (const c of clients) c.close()
    await world.stop()
  })

  let alice: TesseraClient
  let self: number

  it('walks across the border: switches to wB as the same entity, loses no input, no entity flickers', async () => {
    alice = new TesseraClient({ reconnect: { initialMs: 50, maxMs: 500, maxAttempts: 10 } })
    clients.push(alice)
    // The game's view rebuilt from events only, and everything that would betray a discontinuity.
    const mirror = new Map<number, number>()
    const removedAt = new Map<number, number>()
    const problems: string[] = []
    const selfRemovals: number[] = []
    alice.on('entityAdded', (e) => {
      if (mirror.has(e.id)) problems.push(`added twice: ${e.id}`)
      if (removedAt.has(e.id)) problems.push(`flickered: ${e.id} removed and added back`)
      mirror.set(e.id, e.x)
    })
    alice.on('entityUpdated', (e) => {
      if (!mirror.has(e.id)) problems.push(`update of unknown ${e.id}`)
      mirror.set(e.id, e.x)
    })
    alice.on('entityRemoved', (e) => {
      if (!mirror.delete(e.id)) problems.push(`removal of unknown ${e.id}`)
      removedAt.set(e.id, performance.now())
      if (e.id === alice.self) selfRemovals.push(e.id)
    })
    const arrivals: number[] = []
    alice.on('snapshot', () => arrivals.push(performance.now()))
    const migrated: Array<ClientMigrated & { at: number }> = []
    alice.on('migrated', (m) => migrated.push({ ...m, at: performance.now() }))
    let migrateAt: number | undefined
    alice.on('control', (m) => {
      if (m.kind === 'migrate') migrateAt ??= performance.now()
    })

    const ticket = await issueTicket(privateKey, { playerId: 'alice', worldId: 'w', workerId: 'wA', partitionId: 'p1', kid: 'k' })
    const joined = await alice.joinWithTicket({ url: wA.addresses.clientUrl, ticket })
    self = joined.entityId
    expect(joined).toMatchObject({ worldId: 'w', partition: 'p1' })
    await eventually('alice sees herself and the border NPCs', () => mirror.has(self) && mirror.size >= 4)

    // Walk right (30 units/s from x = 85) until switched and well inside p2, then stop.
    let walking = true
    alice.on('tick', () => {
      if (walking) alice.sendInput({ moveX: 1, moveY: 0 })
    })
    await eventually('migrated to wB', () => migrated.length > 0, 15_000)
    await eventually('well inside p2', () => (alice.selfPosition()?.x ?? 0) > 125, 10_000)
    walking = false
    // One last input, stand still: queued, it goes out with the client's next tick.
    const before = alice.stats().inputsSent
    alice.sendInput({ moveX: 0, moveY: 0 })
    const sent = await eventually('every input acknowledged', () => {
      const s = alice.stats()
      return s.inputsSent > before && s.inputsAcked === s.inputsSent ? s.inputsSent : undefined
    })

    // One switch, as the same entity, to the worker that owns it now.
    expect(migrated).toHaveLength(1)
    expect(migrated[0]).toMatchObject({ from: wA.addresses.clientUrl, to: wB.addresses.clientUrl, entityId: self, worldId: 'w', partition: 'p2' })
    expect(alice.self).toBe(self)
    expect(alice.joinInfo?.partition).toBe('p2')
    expect(wB.runner('w', 'p2')?.sim.playerEntity('alice')).toBe(self)
    await eventually('the old connection closed, the relay gone', () =>
      transport.connections('wA').length === 0 && wA.runner('w', 'p1')?.sim.playerEntity('alice') === undefined)
    expect(transport.connections('wB').map((c) => c.principal.playerId)).toEqual(['alice'])

    // Every input applied exactly once, in order, across both workers; none lost or regressed.
    expect(applied.get('alice')).toEqual(Array.from({ length: sent }, (_, k) => k + 1))
    expect(wA.runner('w', 'p1')?.sim.stats().inputs.lost).toBe(0)
    expect(wB.runner('w', 'p2')?.sim.stats().inputs.lost).toBe(0)
    expect(alice.stats()).toMatchObject({ ackRegressions: 0, badSnapshots: 0, migrations: 1, reconnects: 0, state: 'connected' })

    // A continuous stream: never its own entity removed, nothing flickered, the view matches.
    expect(selfRemovals).toEqual([])
    expect(problems).toEqual([])
    expect([...mirror.keys()].sort((a, b) => a - b)).toEqual([...alice.entities()].map((e) => e.id).sort((a, b) => a - b))
    expect(mirror.has(self)).toBe(true)

    // The longest gap between snapshots from the migrate order to one second after the switch.
    const from = (migrateAt ?? (migrated[0] as { at: number }).at) - 100
    const until = (migrated[0] as { at: number }).at + 1000
    const window = arrivals.filter((t) => t >= from && t <= until)
    let gap = 0
    for (let k = 1; k < window.length; k++) gap = Math.max(gap, (window[k] as number) - (window[k - 1] as number))
    const migrateToSwitch = migrateAt === undefined ? NaN : (migrated[0] as { at: number }).at - migrateAt
    console.log(`client-migrate: longest snapshot gap while crossing ${gap.toFixed(1)} ms (${window.length} snapshots, migrate→switch ${migrateToSwitch.toFixed(1)} ms, ${sent} inputs)`)
    expect(window.length).toBeGreaterThan(10)
    expect(gap).toBeLessThan(500)
  })

  it('reconnects after the migration, to the worker the player is on now', async () => {
    const states: string[] = []
    alice.on('stateChange', ({ state }) => states.push(state))
    transport.connections('wB').find((c) => c.principal.playerId === 'alice')?.close()
    await eventually('alice is back', () => alice.state === 'connected' && alice.self !== self, 15_000)
    expect(states).toEqual(['reconnecting', 'connected'])
    expect(alice.joinInfo).toMatchObject({ worldId: 'w', partition: 'p2' })
    expect(alice.stats()).toMatchObject({ reconnects: 1, migrations: 1 })
    await eventually('sees herself again', () => alice.entity(alice.self as number) !== undefined)
    expect(alice.entity(self)).toBeUndefined()
    alice.close()
    await eventually('gone at wB', () => wB.runner('w', 'p2')?.sim.playerEntity('alice') === undefined)
  })
})
