/**
 * Standby connections, worker side, with two borders in one test (wA runs p1 west of x = 100, wB
 * runs p2 east; ghost margin 2): a player connected to wA whose entity comes within the margin of
 * wB's ground is told `prepare` (a standby ticket for wB); the standby connection parked at wB
 * becomes the player's connection the moment wB takes the entity in (join-accepted as that entity,
 * then snapshots), and no `migrate` is ordered. Walking away from the border for a second sends
 * `unprepare`, and wA tells wB to close the standby connection (`StandbyReleased`) whether or not
 * the client does, as it does when the player leaves wA. A handoff that finds no standby parked
 * falls back to the relay and `migrate`.
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import type { WorkerRecord } from '../../core/records.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import { isDecodeError } from '../../core/wire/errors.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import { SnapshotReceiver } from '../../core/wire/snapshot-receiver.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { CROSSING_HOLD_MS, StandbyNotices, UNPREPARE_AFTER_MS, nearestPeer } from '../../worker/neighbours/standby-notices.ts'
import type { PartitionRunner } from '../../worker/partition-runner.ts'
import { StandbyPool } from '../../worker/standby-pool.ts'
import { playerConnection } from '../helpers/player-connection.ts'
import { eastHalvesMap } from '../helpers/test-maps.ts'
import { P1, twoWorkers } from '../helpers/two-borders.ts'

type Claims = { playerId: string; worldId: string; partitionId?: string; workerId?: string; standby?: boolean }

/**
 * Two workers whose tickets are their claims in JSON; wB parks standby connections. The ghost
 * margin is 2 unless given (a crossing is held for a standby only within the margin less the
 * hysteresis band, 4: with 2, never).
 */
function standbyWorld(ghostMargin?: number) {
  const signed: Array<{ by: string; claims: Claims }> = []
  const sign = (by: string) => async (claims: Claims) => {
    signed.push({ by, claims })
    return JSON.stringify(claims)
  }
  const pools = { wA: new StandbyPool(10), wB: new StandbyPool(10) }
  const clock = { now: 0 }
  const deps = (id: 'wA' | 'wB') => ({
    signTicket: sign(id), now: () => clock.now, ...(ghostMargin === undefined ? {} : { ghostMargin }),
    takeStandby: (w: string, p: string) => pools[id].take(w, p),
    releaseStandby: (w: string, p: string, issuer: string) => void pools[id].release(w, p, issuer),
  })
  const w = twoWorkers(createDemoGame({ walkerSpeed: [0, 0] }), { wA: deps('wA'), wB: deps('wB') })
  /** A tick on both workers, then the signing promises settle. */
  const step = async () => {
    w.step()
    await new Promise((r) => setImmediate(r))
    clock.now += 50
  }
  return { ...w, signed, pools, clock, step }
}

const kinds = (messages: ControlMessage[]) => messages.map((m) => m.kind)

/** The standby world with alice connected to wA (p1), her entity `id` placed at x. */
function aliceAt(x: number, ghostMargin?: number) {
  const w = standbyWorld(ghostMargin)
  const alice = playerConnection('alice')
  w.p1.addPlayer(alice.conn)
  const id = w.p1.sim.playerEntity('alice') as number
  place(w, 'p1', id, x)
  return { w, alice, id }
}

function place(w: ReturnType<typeof standbyWorld>, runner: 'p1' | 'p2', id: number, x: number): void {
  const e = w[runner].sim.entity(id) as { x: number; y: number } | undefined
  if (!e) throw new Error(`entity ${id} is not in ${runner}`)
  e.x = x
  e.y = 50
}

/**
 * Alice's entity, placed at x in wB's ground, is handed there within a few steps, with no wait for
 * a standby connection: her client is told to dial wB (`migrate`).
 */
async function crossesAtOnce(w: ReturnType<typeof standbyWorld>, alice: ReturnType<typeof playerConnection>, id: number, x: number): Promise<void> {
  place(w, 'p1', id, x)
  for (let t = 0; t < 6; t++) await w.step()
  expect(w.copies(id)).toEqual(['p2'])
  expect(alice.controls().find((m) => m.kind === 'migrate')).toMatchObject({ url: 'http://wB' })
  expect(w.a.notices?.stats.crossingsHeld).toBe(0)
}

describe('the nearest foreign border', () => {
  const borders = new Map([
    ['wB', [{ axis: 'x' as const, at: 100, from: 0, to: 100 }]],
    ['wC', [{ axis: 'y' as const, at: 100, from: 0, to: 100 }]],
  ])

  it('is the closest within the margin, measured across the border or past its end', () => {
    expect(nearestPeer(50, 50, borders, 16)).toBeUndefined()
    expect(nearestPeer(90, 50, borders, 16)).toBe('wB')
    expect(nearestPeer(50, 95, borders, 16)).toBe('wC')
    // Near the corner: whichever border is nearer.
    expect(nearestPeer(97, 90, borders, 16)).toBe('wB')
    expect(nearestPeer(90, 97, borders, 16)).toBe('wC')
    // Past the end of wB's segment (y > 100) by more than the margin: not near it.
    expect(nearestPeer(99, 120, new Map([['wB', borders.get('wB') ?? []]]), 16)).toBeUndefined()
    expect(nearestPeer(99, 110, new Map([['wB', borders.get('wB') ?? []]]), 16)).toBe('wB')
  })
})

describe('a player walking towards another worker', () => {
  it('is told to connect there ahead; its standby connection is adopted at the handoff, with no migrate', async () => {
    const { w, alice, id } = aliceAt(60)
    await w.step()
    await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted'])

    // Within the margin (2) of wB's ground: a prepare with a standby ticket for wB, signed by wA.
    place(w, 'p1', id, 98.5)
    await w.step()
    const prepare = alice.controls().find((m) => m.kind === 'prepare')
    expect(prepare).toMatchObject({ kind: 'prepare', url: 'http://wB', worldId: 'w' })
    expect(JSON.parse((prepare as { ticket: string }).ticket)).toEqual({ playerId: 'alice', worldId: 'w', workerId: 'wB', standby: true })
    // Once: staying near the border sends nothing more.
    for (let t = 0; t < 5; t++) await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare'])

    // Its client connects there: parked, nothing spawned.
    const standby = playerConnection('alice', { workerId: 'wB', partitionId: null, standby: true, issuer: 'wA' })
    w.pools.wB.park(standby.conn)
    expect(w.p2.sim.playerEntity('alice')).toBeUndefined()
    expect(standby.sent).toHaveLength(0)

    // It steps back out of the margin for a moment (no ghost of it at wB any more: wB's view of the
    // last step does not show it when it arrives), then crosses in one stride: wB takes the entity
    // in and the standby connection with it.
    place(w, 'p1', id, 60)
    for (let t = 0; t < 3; t++) await w.step()
    place(w, 'p1', id, 110)
    let adoptedAt: number | undefined
    for (let t = 0; t < 6 && adoptedAt === undefined; t++) {
      await w.step()
      if (w.p2.hasPlayer('alice')) adoptedAt = t
    }
    expect(adoptedAt).toBeDefined()
    expect(w.copies(id)).toEqual(['p2'])
    expect(standby.controls()[0]).toMatchObject({ kind: 'join-accepted', entityId: id, worldId: 'w', partition: 'p2' })
    expect(w.pools.wB.stats).toMatchObject({ parked: 1, adopted: 1 })
    // Snapshots from wB from the next step on, its own entity in each (a client starts its view
    // afresh on the new connection: a first snapshot without it would remove it).
    const before = standby.snapshots().length
    await w.step()
    expect(standby.snapshots().length).toBe(before + 1)
    const receiver = new SnapshotReceiver()
    for (const bytes of standby.snapshots()) {
      const r = receiver.receive(bytes)
      if (isDecodeError(r) || r.kind !== 'applied') throw new Error('a snapshot that does not decode')
      expect(receiver.entity(id), `entity ${id} in the snapshot of tick ${r.tick}`).toBeDefined()
    }

    // No migrate ordered (the client is moving already); wB's ticket, for a reconnection there,
    // goes on the adopted connection.
    for (let t = 0; t < 5; t++) await w.step()
    expect(w.signed.filter((s) => s.claims.standby !== true)).toEqual([{ by: 'wB', claims: { playerId: 'alice', worldId: 'w', partitionId: 'p2' } }])
    expect(kinds(alice.controls())).not.toContain('migrate')
    expect(standby.controls().find((m) => m.kind === 'ticket')).toEqual({ kind: 'ticket', ticket: JSON.stringify({ playerId: 'alice', worldId: 'w', partitionId: 'p2' }), worldId: 'w' })
    // wA relays until its client closes the old connection; then only wB has anything of alice.
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    alice.close()
    await w.step()
    expect(w.p1.sim.playerEntity('alice')).toBeUndefined()
    expect(w.p2.sim.playerEntity('alice')).toBe(id)
    expect(w.copies(id)).toEqual(['p2'])
    // wA, no longer serving alice, released the standby it had sent her to wB: adopted already,
    // so nothing is closed.
    expect(w.pools.wB.stats.released).toBe(0)
    expect(standby.state.open).toBe(true)

    // Back near the border, wB tells it about wA in turn (on the adopted connection).
    place(w, 'p2', id, 101)
    await w.step()
    expect(standby.controls().filter((m) => m.kind === 'prepare')).toEqual([expect.objectContaining({ url: 'http://wA' })])

    // Out of the margin for a second: unprepare (not before).
    place(w, 'p2', id, 150)
    await w.step()
    const outAt = w.clock.now
    while (w.clock.now - outAt < UNPREPARE_AFTER_MS - 100) await w.step()
    expect(kinds(standby.controls())).not.toContain('unprepare')
    for (let t = 0; t < 4; t++) await w.step()
    expect(standby.controls().filter((m) => m.kind === 'unprepare')).toEqual([{ kind: 'unprepare', url: 'http://wA', workerId: 'wA', worldId: 'w' }])
  })

  it('an adopted standby connection that drops before the client switched leaves the player on its relay', async () => {
    const { w, alice, id } = aliceAt(98.5)
    await w.step()
    const standby = playerConnection('alice', { workerId: 'wB', partitionId: null, standby: true })
    w.pools.wB.park(standby.conn)
    place(w, 'p1', id, 110)
    for (let t = 0; t < 4; t++) await w.step()
    expect(w.p2.hasPlayer('alice')).toBe(true)
    // The new connection drops before its client took it: the entity stays, served through wA.
    standby.close()
    await w.step()
    expect(w.p2.sim.playerEntity('alice')).toBe(id)
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    const before = alice.snapshots().length
    for (let t = 0; t < 3; t++) await w.step()
    expect(alice.snapshots().length).toBe(before + 3)
    // Its last connection closes: now the player leaves.
    alice.close()
    await w.step()
    expect(w.p2.sim.playerEntity('alice')).toBeUndefined()
    expect(w.copies(id)).toEqual([])
  })

  it('a player relayed by a worker whose registration ended leaves with that worker', async () => {
    const { w, id } = aliceAt(110)
    for (let t = 0; t < 4; t++) await w.step()
    expect(w.p2.sim.playerEntity('alice')).toBe(id)
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    // wA dies: no RelayClosed will ever come; wB lets the player go instead of keeping its entity.
    w.live.delete('wA')
    w.b.afterTick()
    expect(w.p2.sim.playerEntity('alice')).toBeUndefined()
  })

  it('a client that ignores unprepare has its parked standby closed by the worker holding it', async () => {
    const { w, alice, id } = aliceAt(98.5)
    await w.step()
    const standby = playerConnection('alice', { workerId: 'wB', partitionId: null, standby: true, issuer: 'wA' })
    w.pools.wB.park(standby.conn)
    place(w, 'p1', id, 60)
    const outAt = w.clock.now
    while (w.clock.now - outAt < UNPREPARE_AFTER_MS + 200) await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare', 'unprepare'])
    // The client has not closed it; wB has, on wA's word.
    expect(standby.state).toMatchObject({ open: false, closedWith: Protocol.closeCode.normal })
    expect(w.pools.wB.stats).toMatchObject({ parked: 1, released: 1, adopted: 0 })
    expect(w.pools.wB.size).toBe(0)
  })

  it('a player who leaves the worker that sent her has her parked standby closed there', async () => {
    const { w, alice } = aliceAt(98.5)
    await w.step()
    const standby = playerConnection('alice', { workerId: 'wB', partitionId: null, standby: true, issuer: 'wA' })
    w.pools.wB.park(standby.conn)
    // A standby of bob's sent by another worker is not wA's to release.
    const bob = playerConnection('bob', { workerId: 'wB', partitionId: null, standby: true, issuer: 'wC' })
    w.pools.wB.park(bob.conn)
    alice.close()
    await w.step()
    expect(standby.state).toMatchObject({ open: false, closedWith: Protocol.closeCode.normal })
    expect(bob.state.open).toBe(true)
    expect(w.pools.wB.stats.released).toBe(1)
  })

  it('without a standby parked, the handoff falls back to the relay and a migrate with a ticket', async () => {
    const { w, alice, id } = aliceAt(110)
    for (let t = 0; t < 6; t++) await w.step()
    expect(w.copies(id)).toEqual(['p2'])
    expect(w.p2.hasPlayer('alice')).toBe(false)
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    expect(w.signed.filter((s) => s.claims.standby !== true).map((s) => s.by)).toEqual(['wB'])
    expect(alice.controls().find((m) => m.kind === 'migrate')).toMatchObject({ url: 'http://wB' })
  })

  it('crossing before its standby connection is parked ahead, waits for it on this side, then switches on it', async () => {
    // Margin 16: a crossing is held while the entity is at most 12 past the border.
    const { w, alice, id } = aliceAt(90, 16)
    await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare'])
    // Across the border and past the hysteresis band before its client's connection got there.
    place(w, 'p1', id, 108)
    for (let t = 0; t < 10; t++) await w.step()
    expect(w.copies(id)).toEqual(['p1'])
    expect(w.a.notices?.stats).toMatchObject({ crossingsHeld: 1, crossingHoldsExpired: 0 })
    // wB shows it meanwhile, as a ghost.
    expect(w.p2.sim.ghosts().map((g) => g.id)).toContain(id)
    // The standby connection arrives and is parked; wB says so (as the worker does on parking it).
    const standby = playerConnection('alice', { workerId: 'wB', partitionId: null, standby: true, issuer: 'wA' })
    w.pools.wB.park(standby.conn)
    w.a.receive('wB', [{ frame: { $case: 'standbyParked', value: { worldId: 'w', playerId: 'alice' } } }])
    for (let t = 0; t < 4 && !w.p2.hasPlayer('alice'); t++) await w.step()
    expect(w.copies(id)).toEqual(['p2'])
    expect(standby.controls()[0]).toMatchObject({ kind: 'join-accepted', entityId: id, partition: 'p2' })
    expect(kinds(alice.controls())).not.toContain('migrate')
    expect(w.pools.wB.stats).toMatchObject({ parked: 1, adopted: 1 })
  })

  it('waits at most crossingHoldMs for a standby connection that never comes, then falls back to the relay and a migrate', async () => {
    const { w, alice, id } = aliceAt(90, 16)
    await w.step()
    place(w, 'p1', id, 108)
    await w.step()
    const heldAt = w.clock.now
    while (w.clock.now - heldAt < CROSSING_HOLD_MS - 100) await w.step()
    expect(w.copies(id)).toEqual(['p1'])
    for (let t = 0; t < 6; t++) await w.step()
    expect(w.copies(id)).toEqual(['p2'])
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    expect(alice.controls().find((m) => m.kind === 'migrate')).toMatchObject({ url: 'http://wB' })
    expect(w.a.notices?.stats).toMatchObject({ crossingsHeld: 1, crossingHoldsExpired: 1 })
  })

  it('a player whose client opens no standby connections (no-standby) is sent no prepare, and its crossing goes at once', async () => {
    const { w, alice, id } = aliceAt(60, 16)
    await w.step()
    alice.say({ kind: 'no-standby' })
    place(w, 'p1', id, 90)
    for (let t = 0; t < 3; t++) await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted'])
    expect(w.signed).toEqual([])
    await crossesAtOnce(w, alice, id, 106)
  })

  it('a prepare already sent is withdrawn when the client says it opens no standby connections, and only then', async () => {
    const { w, alice } = aliceAt(90, 16)
    await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare'])
    // A kind only workers send, from a client: ignored.
    alice.say({ kind: 'stay', worldId: 'w' })
    await w.step()
    await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare'])
    expect(w.a.notices?.size).toBe(1)
    alice.say({ kind: 'no-standby' })
    await w.step()
    await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare', 'unprepare'])
    expect(w.a.notices?.size).toBe(0)
  })

  it('does not hold the entity of a player relayed through another worker: it has no standby here to wait for', async () => {
    // Alice's client never opens its standby: after the hold her entity goes to wB, relayed by wA.
    const { w, id } = aliceAt(108, 16)
    for (let t = 0; t < 30 && !w.p2.sim.entity(id); t++) await w.step()
    expect(w.copies(id)).toEqual(['p2'])
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    // Back across into p1, within the band: wB offers it at once.
    place(w, 'p2', id, 92)
    for (let t = 0; t < 4 && !w.p1.sim.entity(id); t++) await w.step()
    expect(w.copies(id)).toEqual(['p1'])
    expect(w.b.notices?.stats.crossingsHeld).toBe(0)
  })

  it('does not hold an entity further past the border than the ghost margin less the hysteresis band', async () => {
    const { w, alice, id } = aliceAt(90, 16)
    await w.step()
    // 13 past the border: the worker ahead would no longer be sure to see it as a ghost.
    await crossesAtOnce(w, alice, id, 113)
  })

  it('a player whose prepared worker leaves the cluster is told to drop the standby connection', async () => {
    const { w, alice } = aliceAt(98.5)
    await w.step()
    expect(alice.controls().filter((m) => m.kind === 'prepare')).toHaveLength(1)
    // wB leaves the cluster (its registration ends): nothing to prepare for any more.
    w.live.delete('wB')
    for (let t = 0; t < 25; t++) await w.step()
    expect(kinds(alice.controls())).toEqual(['join-accepted', 'prepare', 'unprepare'])
  })
})

describe('a player crossing where three workers meet', () => {
  /**
   * wA's notices for alice, whose entity is in wA's p1 (x < 100) near the corner at (100, 50): east
   * of it wB owns p3 (y < 50) and wC owns p4 (y ≥ 50). Tickets are their claims in JSON.
   */
  function corner() {
    const map = eastHalvesMap({ p1: 'wA', p3: 'wB', p4: 'wC' })
    const workers = new Map(['wA', 'wB', 'wC'].map((id) => [id, { id, clientUrl: `http://${id}` } as WorkerRecord]))
    const told: ControlMessage[] = []
    const released: string[] = []
    const clock = { now: 0 }
    const notices = new StandbyNotices({
      workerId: 'wA', margin: 16, map: () => map, workers: () => workers, logger: silentLogger(), now: () => clock.now,
      sign: (c) => Promise.resolve(JSON.stringify(c)),
      send: (_w, _p, message) => void told.push(message),
      release: (peer) => void released.push(peer),
      transferHoldMs: 500, crossingHoldMs: CROSSING_HOLD_MS,
    })
    const alice = { id: 1, x: 97, y: 45, playerId: 'alice' }
    const runner = {
      key: 'w:p1', retiring: false, players: 1, options: { kind: 'world', worldId: 'w', partitionId: 'p1', rect: P1 },
      playerIds: () => ['alice'], opensNoStandby: () => false,
      sim: { isRelay: () => false, playerEntity: () => alice.id, entity: () => alice },
    } as unknown as PartitionRunner<unknown, unknown>
    /** A sweep after a tick, then the ticket signed. */
    const update = async () => {
      notices.update([runner])
      await new Promise((r) => setImmediate(r))
      clock.now += 50
    }
    const prepared = () => told.filter((m) => m.kind === 'prepare').map((m) => (m.kind === 'prepare' ? m.url : ''))
    return { notices, alice, told, released, update, prepared }
  }

  it('is told about the worker whose ground its entity crossed into, not the nearest border\'s, and that crossing waits for it', async () => {
    const c = corner()
    // Nearest: wB's border (3 units across), wC's 5 units off (past the end of its segment).
    await c.update()
    expect(c.prepared()).toEqual(['http://wB'])
    // Through the corner into wC's ground: told about wC, wB's standby given up.
    Object.assign(c.alice, { x: 106, y: 53 })
    await c.update()
    expect(c.prepared()).toEqual(['http://wB', 'http://wC'])
    expect(c.told.find((m) => m.kind === 'unprepare')).toMatchObject({ workerId: 'wB' })
    expect(c.released).toEqual(['wB'])
    // Its handoff to wC waits for the standby there, which its client has just been told to open.
    expect(c.notices.holdCrossing('w', 'alice', 'wC')).toBe(true)
    c.notices.parked('w', 'alice', 'wC')
    expect(c.notices.holdCrossing('w', 'alice', 'wC')).toBe(false)
    // Standing there, nothing more is sent (no flip back to the nearest border's worker).
    for (let t = 0; t < 5; t++) await c.update()
    expect(c.prepared()).toEqual(['http://wB', 'http://wC'])
  })

  it('a crossing offered to a worker other than the one prepared is pointed there and held for it', async () => {
    const c = corner()
    await c.update()
    expect(c.prepared()).toEqual(['http://wB'])
    // Asked before a sweep saw the entity cross (a stride past the band in one tick).
    expect(c.notices.holdCrossing('w', 'alice', 'wC')).toBe(true)
    await new Promise((r) => setImmediate(r))
    expect(c.prepared()).toEqual(['http://wB', 'http://wC'])
    expect(c.notices.stats.crossingsHeld).toBe(1)
  })
})

describe('the standby pool', () => {
  it('keeps one connection per player (the newest), refuses past its limit, and hands over only open ones', () => {
    const pool = new StandbyPool(2)
    const a1 = playerConnection('a', { workerId: 'wB', standby: true })
    const a2 = playerConnection('a', { workerId: 'wB', standby: true })
    const b = playerConnection('b', { workerId: 'wB', standby: true })
    const c = playerConnection('c', { workerId: 'wB', standby: true })
    pool.park(a1.conn)
    pool.park(a2.conn)
    expect(a1.state).toMatchObject({ open: false, closedWith: Protocol.closeCode.replaced })
    pool.park(b.conn)
    pool.park(c.conn)
    expect(pool.size).toBe(2)
    expect(c.controls()).toEqual([expect.objectContaining({ kind: 'error', code: 'busy' })])
    // A client that closes while parked is forgotten.
    b.close()
    expect(pool.size).toBe(1)
    expect(pool.take('w', 'b')).toBeUndefined()
    expect(pool.take('w', 'a')).toBe(a2.conn)
    expect(pool.take('w', 'a')).toBeUndefined()
    expect(pool.stats).toMatchObject({ parked: 3, adopted: 1, closed: 1, refused: 1, replaced: 1 })
  })

  it('closes a parked connection on its issuer\'s word only', () => {
    const pool = new StandbyPool(5)
    const a = playerConnection('a', { workerId: 'wB', standby: true, issuer: 'wA' })
    pool.park(a.conn)
    expect(pool.release('w', 'a', 'wC')).toBe(false)
    expect(pool.release('w', 'nobody', 'wA')).toBe(false)
    expect(a.state.open).toBe(true)
    expect(pool.release('w', 'a', 'wA')).toBe(true)
    expect(a.state).toMatchObject({ open: false, closedWith: Protocol.closeCode.normal })
    expect(pool.release('w', 'a', 'wA')).toBe(false)
    expect(pool.stats).toMatchObject({ released: 1, closed: 0 })
  })

  it('closes everything parked when the worker stops, and refuses what comes after', () => {
    const pool = new StandbyPool(5)
    const a = playerConnection('a', { workerId: 'wB', standby: true })
    pool.park(a.conn)
    pool.close()
    expect(a.state).toMatchObject({ open: false, closedWith: Protocol.closeCode.going_away })
    const late = playerConnection('b', { workerId: 'wB', standby: true })
    pool.park(late.conn)
    expect(late.controls()).toEqual([expect.objectContaining({ kind: 'error', code: 'shutting_down' })])
    expect(pool.size).toBe(0)
  })
})
