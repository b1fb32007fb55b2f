/**
 * A player's connection stays on the worker it joined (which relays) until its client moves; its
 * entity may meanwhile walk on, or back. Three workers in this process: p1 (x < 100) on wA, and
 * east of it p3 (y < 50) on wB and p4 (y ≥ 50) on wC. wB's client address is unreachable, so a
 * client told to move there cannot, and keeps being relayed by wA.
 *
 * - An entity handed on from wB to wC: wA learns it from wB (`relayMoved`), forwards the player's
 *   inputs to wC directly, and sends the client to wC with wC's ticket. Proven by stopping wB
 *   afterwards (nothing may depend on it) and by the client switching to wC.
 * - An entity back on wA before its client could move: wA says `stay`, and the client drops the
 *   move it could not make instead of retrying it until its ticket expires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueTicket } from '../../core/tickets.ts'
import { TesseraClient } from '../../client/index.ts'
import type { ClientMigrated, TesseraClientError } from '../../client/index.ts'
import { installNodeWebRTC } from '../../client/polyfill-node.ts'
import { eventually } from '../helpers/eventually.ts'
import { walkerGame } from './helpers/walker-game.ts'
import { WorkerWorld, eastHalvesMap } from './helpers/worker-world.ts'

/** Input seqs the game applied, per player, in order (every worker is in this process). */
const applied = new Map<string, number[]>()

/** Players spawn at (85, 30) in p1 and walk where their input points, 30 units/s. */
const walker = walkerGame({ applied, spawnAt: () => ({ x: 85, y: 30 }) })

const THREE_WAY = eastHalvesMap({ p1: 'wA', p3: 'wB', p4: 'wC' })

describe('a relayed player whose entity moves on, or back', () => {
  const world = new WorkerWorld('/relay-moved/', {
    game: () => walker,
    ids: ['wA', 'wB', 'wC'],
    worker: { reportIntervalMs: 200 },
    // Nothing listens there: a client told to go to wB cannot.
    perWorker: { wB: { advertiseUrl: 'http://127.0.0.1:9' } },
    transport: { heartbeatTimeoutMs: 3000 },
  })
  const clients: TesseraClient[] = []

  beforeAll(async () => {
    installNodeWebRTC()
    await world.start()
    await world.createWorld(THREE_WAY)
  })

  afterAll(async () => {
    for (const c of clients) c.close()
    await world.stop()
  })

  /** A client joined on wA as `playerId`, sending `heading` (moveX, moveY) every tick while set. */
  async function player(playerId: string, migrate: boolean) {
    const client = new TesseraClient({ migrate, reconnect: { initialMs: 50, maxMs: 500, maxAttempts: 10 } })
    clients.push(client)
    const errors: TesseraClientError[] = []
    client.on('error', (e) => errors.push(e))
    const migrated: ClientMigrated[] = []
    client.on('migrated', (m) => migrated.push(m))
    const control: string[] = []
    client.on('control', (m) => control.push(m.kind))
    const walk = { heading: undefined as [number, number] | undefined }
    client.on('tick', () => {
      if (walk.heading) client.sendInput({ moveX: walk.heading[0], moveY: walk.heading[1] })
    })
    const ticket = await issueTicket(world.ticketKey, { playerId, worldId: 'w', workerId: 'wA', partitionId: 'p1', kid: 'k' })
    const joined = await client.joinWithTicket({ url: world.wA.addresses.clientUrl, ticket })
    const self = joined.entityId
    /** The worker and partition simulating the player's entity now. */
    const where = (): string | undefined => {
      for (const [w, p] of [['wA', 'p1'], ['wB', 'p3'], ['wC', 'p4']] as const) if (world.worker(w).runner('w', p)?.sim.entity(self)) return `${w}:${p}`
      return undefined
    }
    /** Stop walking, send one last input (stand still), and wait until everything sent is acknowledged. */
    const halt = async (): Promise<number> => {
      walk.heading = undefined
      // Queued: it goes out with the client's next tick.
      const before = client.stats().inputsSent
      client.sendInput({ moveX: 0, moveY: 0 })
      return eventually(`${playerId}'s inputs acknowledged`, () => {
        const s = client.stats()
        return s.inputsSent > before && s.inputsAcked === s.inputsSent ? s.inputsSent : undefined
      }, 10_000)
    }
    return { client, self, errors, migrated, control, walk, where, halt }
  }

  it('a player back on the relaying worker before its client could move: `stay` ends the move', async () => {
    const carol = await player('carol', true)
    carol.walk.heading = [1, 0]
    await eventually('carol handed to wB', () => carol.where() === 'wB:p3', 10_000)
    await eventually('told to move to wB, and failing to', () => carol.control.includes('migrate') && carol.errors.length > 0, 10_000)
    carol.walk.heading = [-1, 0]
    await eventually('carol back on wA', () => carol.where() === 'wA:p1', 10_000)
    await eventually('told to stay', () => carol.control.includes('stay'), 5_000)
    const sent = await carol.halt()

    // The failed attempts stop with the `stay` (without it they go on, backing off, for the
    // ticket's 30 s): none in the next 1.5 s, though attempts came every ≤ 0.5 s before.
    const errorsAtStay = carol.errors.length
    await new Promise((r) => setTimeout(r, 1_500))
    expect(carol.errors.slice(errorsAtStay).map((e) => e.message)).toEqual([])
    expect(carol.errors.every((e) => e.code === 'migrate_failed')).toBe(true)
    expect(carol.migrated).toEqual([])
    expect(applied.get('carol')).toEqual(Array.from({ length: sent }, (_, k) => k + 1))
    expect(carol.client.stats()).toMatchObject({ ackRegressions: 0, migrations: 0, reconnects: 0, state: 'connected' })

    // A reconnection goes to wA, where the player is, not to the move that was dropped.
    world.transport.connections('wA').find((c) => c.principal.playerId === 'carol')?.close()
    await eventually('carol is back', () => carol.client.state === 'connected' && carol.client.self !== carol.self, 10_000)
    expect(carol.client.joinInfo).toMatchObject({ worldId: 'w', partition: 'p1' })
    expect(carol.client.stats().reconnects).toBe(1)
    carol.client.close()
  })

  it('a relayed entity handed on to a third worker: the client is sent there and switches', async () => {
    const bob = await player('bob', true)
    bob.walk.heading = [1, 0]
    await eventually('bob handed to wB', () => bob.where() === 'wB:p3', 10_000)
    await eventually('told to move to wB, and failing to', () => bob.control.includes('migrate') && bob.errors.length > 0, 10_000)
    bob.walk.heading = [0, 1]
    await eventually('bob handed on to wC', () => bob.where() === 'wC:p4', 10_000)
    await eventually('bob switched to wC', () => bob.migrated.length > 0, 10_000)
    const sent = await bob.halt()

    expect(bob.migrated).toHaveLength(1)
    expect(bob.migrated[0]).toMatchObject({ from: world.wA.addresses.clientUrl, to: world.worker('wC').addresses.clientUrl, entityId: bob.self, partition: 'p4' })
    expect(bob.client.self).toBe(bob.self)
    expect(applied.get('bob')).toEqual(Array.from({ length: sent }, (_, k) => k + 1))
    expect(bob.client.stats()).toMatchObject({ ackRegressions: 0, migrations: 1, reconnects: 0, state: 'connected' })
    // (Near wA's ground on wC, bob may hold a standby connection to wA: that one is not a relay.)
    await eventually('wA no longer relays bob', () => world.transport.connections('wA').every((c) => c.principal.playerId !== 'bob' || c.principal.standby))
    expect(world.wA.runner('w', 'p1')?.hasPlayer('bob')).toBe(false)
    bob.client.close()
  })

  it('a relayed entity handed on to a third worker: its inputs go there straight, even once the middle worker is gone', async () => {
    // This client never moves: wA relays it for good.
    const alice = await player('alice', false)
    alice.walk.heading = [1, 0]
    await eventually('alice handed to wB', () => alice.where() === 'wB:p3', 10_000)
    alice.walk.heading = [0, 1]
    await eventually('alice handed on to wC', () => alice.where() === 'wC:p4', 10_000)
    // Let the hand-on settle (wA has heard of it), then take wB away: wA must not need it.
    const ackedBefore = alice.client.stats().inputsAcked
    await eventually('inputs acknowledged through wC', () => alice.client.stats().inputsAcked > ackedBefore + 5)
    await world.worker('wB').stop()
    alice.walk.heading = [0.2, 1]
    await new Promise((r) => setTimeout(r, 1_000))
    const sent = await alice.halt()

    expect(alice.where()).toBe('wC:p4')
    expect(applied.get('alice')).toEqual(Array.from({ length: sent }, (_, k) => k + 1))
    expect(alice.client.stats()).toMatchObject({ ackRegressions: 0, migrations: 0, reconnects: 0, state: 'connected' })
    expect(alice.errors).toEqual([])
  })
})
