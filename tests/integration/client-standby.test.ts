/**
 * A real `TesseraClient` (geckos.io in Node) walking back and forth across the border between two
 * workers of one world (p1 on wA, p2 on wB, both in this process): nearing the border it is told
 * `prepare` and opens a standby connection to the other worker, which holds it without spawning
 * anything; at the handoff that worker adopts it and the client switches with nothing to dial and
 * no `migrate`. Every crossing goes that way; every input is applied exactly once and in order, the
 * player's entity has one copy throughout and is never removed from the game's view, and a player
 * who walks away from the border has its standby connection closed (`unprepare`). The workers start
 * a second apart and still number ticks alike (the cluster's clock): the game steps the entity at
 * each tick number once, and the client's snapshots go on from one worker's tick numbers to the
 * other's. A crossing that comes before its standby connection is parked ahead waits for it on the
 * old worker's side (for a while, within the margin).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueTicket } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import type { TesseraClient } from '../../client/index.ts'
import type { ClientMigrated } from '../../client/index.ts'
import type { ClientTransport } from '../../worker/transport/geckos-server.ts'
import type { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'
import { tickJumps } from '../helpers/tick-jumps.ts'
import { walkerGame } from './helpers/walker-game.ts'
import type { Walk, WalkerMessage } from './helpers/walker-game.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

/** Input seqs the game applied, per player, in order (both workers are in this process). */
const applied = new Map<string, number[]>()

/** Ticks at which the game simulated each entity, in order (across both workers). */
const stepped = new Map<number, number[]>()

/** Players spawn at x = 60 in p1 (40 units from the border, well outside the margin of 24). */
const walker = walkerGame({
  applied,
  spawnAt: (b) => ({ x: Math.min(Math.max(60, b.minX + 15), b.maxX - 15), y: 50 }),
  onStep: (id, tick) => {
    const list = stepped.get(id) ?? []
    list.push(tick)
    stepped.set(id, list)
  },
})

describe('a real client crossing on standby connections', () => {
  const world = new WorkerWorld('/client-standby/', {
    game: () => walker,
    // A ghost margin of 24: a standby connection has the walk from x = 76 to the border and
    // past its hysteresis band (~0.9 s) to be parked ahead, and the handoff waits for it up to 16
    // units further (~0.5 s more).
    worker: { reportIntervalMs: 200, retireGraceMs: 5_000, ghostMargin: 24 },
    transport: { heartbeatTimeoutMs: 3000 },
    // 20 ticks apart: a worker counting its own ticks would be 20 behind the other.
    startGapMs: 1000,
  })
  let transport: ClientTransport<TicketClaims>
  let wA: Worker<Walk, WalkerMessage>
  let wB: Worker<Walk, WalkerMessage>
  /** The first test's player, left on wB. */
  let walked: TesseraClient | undefined

  beforeAll(async () => {
    await world.start()
    await world.createWorld()
    ;({ wA, wB, transport } = world)
  })

  afterAll(() => world.stop())

  it('switches at every handoff on the connection opened ahead, losing no input and showing no seam', async () => {
    const alice: TesseraClient = world.client({ reconnect: { initialMs: 50, maxMs: 500, maxAttempts: 10 } })
    walked = alice
    const problems: string[] = []
    const seen = new Set<number>()
    alice.on('entityAdded', (e) => {
      if (seen.has(e.id)) problems.push(`added twice: ${e.id}`)
      seen.add(e.id)
    })
    alice.on('entityRemoved', (e) => problems.push(`removed: ${e.id}`))
    const controls: string[] = []
    alice.on('control', (m) => controls.push(m.kind))
    const migrated: Array<ClientMigrated & { at: number }> = []
    alice.on('migrated', (m) => migrated.push({ ...m, at: performance.now() }))
    const arrivals: number[] = []
    const snapshotTicks: number[] = []
    alice.on('snapshot', ({ tick }) => {
      arrivals.push(performance.now())
      snapshotTicks.push(tick)
    })
    // The entity sampled every 5 ms: never simulated twice, never gone (simulated, or held on
    // offer: an offer's sender holds it until the acceptance is back, its receiver may simulate it
    // already).
    const samples: Array<{ simulated: number; held: number }> = []
    const sampler = setInterval(() => {
      const id = alice.self
      if (id === undefined) return
      samples.push({
        simulated: [wA.runner('w', 'p1')?.sim.entity(id), wB.runner('w', 'p2')?.sim.entity(id)].filter(Boolean).length,
        held: wA.border.offersOut().filter((o) => o.entityId === id).length + wB.border.offersOut().filter((o) => o.entityId === id).length,
      })
    }, 5)

    const joined = await alice.joinWithTicket({ url: wA.addresses.clientUrl, ticket: await world.ticket('alice') })
    const self = joined.entityId
    let direction = 1
    alice.on('tick', () => {
      if (direction !== 0) alice.sendInput({ moveX: direction, moveY: 0 })
    })
    const x = () => alice.selfPosition()?.x ?? 0
    // East into p2, back west into p1, east again: three handoffs.
    await eventually('on wB, well inside p2', () => migrated.length === 1 && x() > 120, 15_000)
    direction = -1
    await eventually('back on wA, well inside p1', () => migrated.length === 2 && x() < 80, 15_000)
    direction = 1
    await eventually('on wB again, well inside p2', () => migrated.length === 3 && x() > 130, 15_000)
    direction = 0
    const before = alice.stats().inputsSent
    alice.sendInput({ moveX: 0, moveY: 0 })
    const sent = await eventually('every input acknowledged', () => {
      const s = alice.stats()
      return s.inputsSent > before && s.inputsAcked === s.inputsSent ? s.inputsSent : undefined
    })
    clearInterval(sampler)

    // Three switches, each on a standby connection, none ordered by migrate.
    expect(migrated.map((m) => m.to)).toEqual([wB.addresses.clientUrl, wA.addresses.clientUrl, wB.addresses.clientUrl])
    expect(migrated.every((m) => m.entityId === self)).toBe(true)
    expect(controls).not.toContain('migrate')
    expect(controls.filter((k) => k === 'prepare').length).toBeGreaterThanOrEqual(3)
    expect(alice.stats()).toMatchObject({ migrations: 3, standbySwitches: 3, reconnects: 0, ackRegressions: 0, badSnapshots: 0, state: 'connected' })
    expect(wA.standby.stats.adopted + wB.standby.stats.adopted).toBe(3)

    // Every input applied exactly once, in order, across both workers.
    expect(applied.get('alice')).toEqual(Array.from({ length: sent }, (_, k) => k + 1))
    expect(wA.runner('w', 'p1')?.sim.stats().inputs.lost).toBe(0)
    expect(wB.runner('w', 'p2')?.sim.stats().inputs.lost).toBe(0)
    // One owner at every sample, a continuous view.
    expect(samples.length).toBeGreaterThan(100)
    expect(samples.filter((s) => s.simulated > 1 || s.simulated + s.held === 0)).toEqual([])
    expect(problems).toEqual([])
    expect(alice.entity(self)).toBeDefined()

    // One tick numbering on both workers: the entity is simulated at ever later ticks, each number
    // once (a handoff to the worker whose phase comes later in the interval goes on from the next
    // number), with no more than a handoff's round trip skipped. The snapshots the client applied
    // go on across each switch the same way (one may be missed: unreliable delivery), never back, a
    // number repeated at most once per switch (the new owner's snapshot of the tick the old one
    // showed last, sent later in the interval, the entity in it as the old owner left it).
    expect(tickJumps(stepped.get(self) ?? [], 1, 4)).toEqual([])
    expect(tickJumps(snapshotTicks, 0, 8)).toEqual([])
    expect(tickJumps(snapshotTicks, 1, Infinity).length).toBeLessThanOrEqual(3)

    // Longest gap between snapshots around the switches.
    let gap = 0
    for (const m of migrated) {
      const window = arrivals.filter((t) => t >= m.at - 500 && t <= m.at + 500)
      for (let k = 1; k < window.length; k++) gap = Math.max(gap, (window[k] as number) - (window[k - 1] as number))
    }
    console.log(`client-standby: longest snapshot gap around 3 switches ${gap.toFixed(1)} ms, ${sent} inputs`)
    expect(gap).toBeLessThan(250)

    // Out of the margin (x > 130, the border at 100, margin 24): the standby back to wA is closed,
    // and only the connection to wB is left.
    await eventually('no connection left at wA', () => transport.connections('wA').length === 0 && wB.standby.size === 0 && wA.standby.size === 0, 10_000)
    expect(transport.connections('wB').map((c) => c.principal.playerId)).toEqual(['alice'])
    expect(wA.runner('w', 'p1')?.sim.playerEntity('alice')).toBeUndefined()
    expect(wB.runner('w', 'p2')?.sim.playerEntity('alice')).toBe(self)
  })

  it('reconnects after its last switch to the worker it is on, with the ticket that worker sent', async () => {
    // From the first test: alice is on wB, well inside p2.
    const alice = walked
    if (alice?.joinInfo?.partition !== 'p2') throw new Error('alice is not on wB')
    const self = alice.self
    const states: string[] = []
    alice.on('stateChange', ({ state }) => states.push(state))
    transport.connections('wB').find((c) => c.principal.playerId === 'alice')?.close()
    await eventually('alice is back', () => alice.state === 'connected' && alice.self !== self, 15_000)
    expect(states).toEqual(['reconnecting', 'connected'])
    expect(alice.joinInfo).toMatchObject({ worldId: 'w', partition: 'p2' })
    expect(alice.stats()).toMatchObject({ reconnects: 1, migrations: 3 })
  })

  it('a standby connection that comes after its entity joins at once as that entity', async () => {
    // Carol ignores prepare and migrate: her entity walks into p2 and wA relays her.
    const carol = world.client({ reconnect: false, standby: false, migrate: false })
    const joined = await carol.joinWithTicket({ url: wA.addresses.clientUrl, ticket: await world.ticket('carol') })
    carol.on('tick', () => carol.sendInput({ moveX: 1, moveY: 0 }))
    await eventually('carol simulated by wB', () => wB.runner('w', 'p2')?.sim.playerEntity('carol') === joined.entityId, 10_000)
    expect(wA.runner('w', 'p1')?.sim.isRelay('carol')).toBe(true)
    // Her standby connection arrives late (the race a slow dial loses): wB has the entity but no
    // connection for it, so it joins at once, as that entity, and nothing is parked.
    const late = world.client({ reconnect: false })
    const ticket = await issueTicket(world.ticketKey, { playerId: 'carol', worldId: 'w', workerId: 'wB', standby: true, kid: 'k' })
    const accepted = await late.joinWithTicket({ url: wB.addresses.clientUrl, ticket })
    expect(accepted).toMatchObject({ entityId: joined.entityId, partition: 'p2' })
    expect(wB.standby.has('w', 'carol')).toBe(false)
    expect(wB.runner('w', 'p2')?.hasPlayer('carol')).toBe(true)
    carol.close()
    late.close()
  })

  it('a standby ticket for where the player is connected already is refused, the entity kept; with no entity there, it is parked', async () => {
    const bob = world.client({ reconnect: false })
    const joined = await bob.joinWithTicket({ url: wA.addresses.clientUrl, ticket: await world.ticket('bob') })
    // A standby ticket to wA itself, where bob's entity and connection are: refused, nothing replaced.
    const standbyTicket = await issueTicket(world.ticketKey, { playerId: 'bob', worldId: 'w', workerId: 'wA', standby: true, kid: 'k' })
    const second = world.client({ reconnect: false })
    await expect(second.joinWithTicket({ url: wA.addresses.clientUrl, ticket: standbyTicket })).rejects.toMatchObject({ code: 'already_playing' })
    expect(wA.runner('w', 'p1')?.sim.playerEntity('bob')).toBe(joined.entityId)
    expect(bob.state).toBe('connected')
    // Once bob's connection is gone (and with it the entity), the same ticket is parked: nothing
    // spawned, no join-accepted (the client's join times out).
    bob.close()
    await eventually('bob gone', () => wA.runner('w', 'p1')?.sim.playerEntity('bob') === undefined)
    const parkedBefore = wA.standby.stats.parked
    const parked = world.client({ reconnect: false, joinTimeoutMs: 500 })
    await expect(parked.joinWithTicket({ url: wA.addresses.clientUrl, ticket: standbyTicket })).rejects.toMatchObject({ code: 'timeout' })
    expect(wA.standby.stats.parked).toBe(parkedBefore + 1)
    expect(wA.runner('w', 'p1')?.sim.playerEntity('bob')).toBeUndefined()
    await eventually('given up by its client, gone from the pool', () => !wA.standby.has('w', 'bob'))
  })
})
