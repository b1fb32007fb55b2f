/**
 * A real worker with real geckos.io clients (the player library's `TesseraClient` in Node): players
 * join a one-partition world, move, see the players within the interest radius and not those beyond it, every
 * acknowledged input is applied exactly once; bad tickets are refused before a channel exists;
 * garbage and abrupt closes leave the others served; a dropped connection is resumed with a
 * consistent entity set. One transport and one worker for the whole file (one geckos server per
 * process).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { createMap, encodeMap } from '../../core/partition-map.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys, issueTicket } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { TesseraClient, TesseraClientError } from '../../client/index.ts'
import type { EntityView } from '../../client/index.ts'
import { connect } from '../../client/connection.ts'
import type { Connection } from '../../client/connection.ts'
import { installNodeWebRTC } from '../../client/polyfill-node.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game } from '../../worker/game/types.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'
import { runBots } from '../../scripts/bots/run.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
const RADIUS = 100
/** Where each test player spawns: alice and bob close, carol far from both. */
const SPAWN = new Map<string, { x: number; y: number }>([
  ['alice', { x: 100, y: 100 }],
  ['bob', { x: 150, y: 100 }],
  ['carol', { x: 800, y: 800 }],
])

const store = new MemoryStore()
const keys = scopedKeys('/wc/')
let transport: ClientTransport<TicketClaims>
let worker: Worker<DemoState, DemoMessage>
let privateKey: CryptoKey
const joins: string[] = []
/** Input sequence numbers the game applied, per player, in order. */
const applied = new Map<string, number[]>()
const clients: TesseraClient[] = []
const raw: Connection[] = []
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}

/** The demo game, spawning the test players where `SPAWN` says and recording applied inputs. */
function testGame(): Game<DemoState, DemoMessage> {
  const demo = createDemoGame({})
  return {
    ...demo,
    spawn(ctx, spec) {
      const at = spec.type === 'player' ? SPAWN.get(spec.playerId) : undefined
      return demo.spawn(ctx, at ? { ...spec, ...at } : spec)
    },
    input(ctx, entity, input) {
      const player = entity.playerId ?? '?'
      const list = applied.get(player) ?? []
      list.push(input.seq)
      applied.set(player, list)
      demo.input(ctx, entity, input)
    },
  }
}

async function ticket(playerId: string, over: { worldId?: string; workerId?: string; key?: CryptoKey; now?: number; ttlSeconds?: number } = {}): Promise<string> {
  return issueTicket(over.key ?? privateKey, {
    playerId, worldId: over.worldId ?? 'r1', workerId: over.workerId ?? 'w1', partitionId: 'p0', kid: 'k1',
    ...(over.now !== undefined ? { now: over.now } : {}), ...(over.ttlSeconds !== undefined ? { ttlSeconds: over.ttlSeconds } : {}),
  })
}

function client(): TesseraClient {
  const c = new TesseraClient({ reconnect: { initialMs: 50, maxMs: 500, maxAttempts: 10 } })
  clients.push(c)
  return c
}

async function joined(playerId: string): Promise<TesseraClient> {
  const c = client()
  await c.joinWithTicket({ url: worker.addresses.clientUrl, ticket: await ticket(playerId) })
  return c
}

function ids(c: TesseraClient): number[] {
  return [...c.entities()].map((e) => e.id).sort((a, b) => a - b)
}

function runner() {
  const r = worker.runner('r1', 'p0')
  if (!r) throw new Error('r1 is not simulated')
  return r
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  installNodeWebRTC()
  const pair = await generateTicketKeys()
  privateKey = pair.privateKey
  transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => new Map([['k1', pair.publicKey]]), (id) => id === 'w1'),
    heartbeatTimeoutMs: 3000,
  })
  worker = new Worker<DemoState, DemoMessage>({
    store, keys, transport, logger: silentLogger(), game: testGame,
    options: workerOptions({ id: 'w1', port: 0, grpcPort: 0, opsPort: 0, interestRadius: RADIUS, logLevel: 'silent' }),
    onPlayer: (event, claims) => {
      if (event === 'joined') joins.push(claims.playerId)
    },
  })
  await worker.start()
  // A world, not a room: in a room everyone sees everyone, and this file tests the interest radius.
  await store.put(keys.world('r1'), JSON.stringify({ id: 'r1', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
  await store.put(keys.worldMap('r1'), encodeMap({ ...createMap('r1', BOUNDS, 'w1'), root: { kind: 'leaf', id: 'p0', owner: 'w1', epoch: 1 } }))
  await eventually('r1 simulated', () => worker.partitions().includes('r1:p0'))
})

afterAll(async () => {
  for (const c of clients) c.close()
  for (const c of raw) c.close()
  await worker?.stop()
  await transport?.close()
  await store.close()
  process.off('unhandledRejection', onUnhandled)
})

describe('a worker with real clients', () => {
  let alice: TesseraClient
  let bob: TesseraClient
  let carol: TesseraClient

  it('lets players join and shows each the players within the radius, not beyond', async () => {
    ;[alice, bob, carol] = await Promise.all([joined('alice'), joined('bob'), joined('carol')])
    expect(alice.state).toBe('connected')
    expect(alice.joinInfo).toMatchObject({ worldId: 'r1', partition: 'p0', tickRate: 20 })
    const [a, b, c] = [alice.self, bob.self, carol.self].map((id) => id ?? -1) as [number, number, number]
    expect(new Set([a, b, c]).size).toBe(3)
    await eventually('alice sees bob', () => alice.entity(b) !== undefined)
    await eventually('bob sees alice', () => bob.entity(a) !== undefined)
    await eventually('carol sees herself', () => carol.entity(c) !== undefined)
    // A few more ticks, then the far player is still unseen, both ways.
    const tick = alice.stats().snapshots
    await eventually('more snapshots', () => alice.stats().snapshots > tick + 5)
    expect(ids(alice)).toEqual([a, b].sort((x, y) => x - y))
    expect(ids(carol)).toEqual([c])
    expect(alice.entity(a)).toMatchObject({ x: 100, y: 100, kind: 1 })
    expect(runner().players).toBe(3)
  })

  it('moves a player by its inputs, seen by itself and its neighbour', async () => {
    const a = alice.self as number
    const start = alice.entity(a) as EntityView
    const seenByBob: number[] = []
    const off = bob.on('entityUpdated', (e) => {
      if (e.id === a) seenByBob.push(e.x)
    })
    const stopInput = alice.on('tick', () => alice.sendInput({ moveX: -1, moveY: 0 }))
    await eventually('alice moved left', () => (alice.entity(a)?.x ?? Infinity) < start.x - 2)
    stopInput()
    off()
    expect(alice.entity(a)?.y).toBeCloseTo(start.y, 0)
    expect(seenByBob.some((x) => x < start.x - 1)).toBe(true)
  })

  it('applies every acknowledged input exactly once, in order', async () => {
    const stop = bob.on('tick', () => bob.sendInput({ moveX: 0, moveY: 0.5, buttons: 1 }))
    await eventually('bob sent inputs', () => bob.stats().inputsSent >= 40)
    stop()
    await eventually('all of alice and bob acknowledged', () =>
      [alice, bob].every((c) => c.stats().inputsAcked === c.stats().inputsSent),
    )
    for (const [player, c] of [['alice', alice], ['bob', bob]] as const) {
      const seqs = applied.get(player) ?? []
      const sent = c.stats().inputsSent
      expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i + 1))
      expect(c.stats().ackRegressions).toBe(0)
    }
    expect(runner().sim.stats().inputs.lost).toBe(0)
  })

  it('refuses forged, expired and other-worker tickets before a channel exists', async () => {
    const forger = await generateTicketKeys()
    const joinsBefore = joins.length
    const connectsBefore = transport.stats.connects
    const cases = [
      { t: await ticket('mallory', { key: forger.privateKey }), status: 401 },
      { t: await ticket('mallory', { now: Date.now() - 120_000, ttlSeconds: 10 }), status: 401 },
      { t: await ticket('mallory', { workerId: 'w2' }), status: 403 },
    ]
    for (const { t, status } of cases) {
      const c = client()
      const err = await c.joinWithTicket({ url: worker.addresses.clientUrl, ticket: t }).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(TesseraClientError)
      expect((err as TesseraClientError).code).toBe('refused')
      expect((err as TesseraClientError).message).toContain(String(status))
      expect(c.state).toBe('closed')
    }
    expect(transport.stats.connects).toBe(connectsBefore)
    expect(joins.length).toBe(joinsBefore)
    expect(transport.stats.refusals).toMatchObject({ bad_ticket: 1, expired_ticket: 1, wrong_world: 1 })
    expect(runner().hasPlayer('mallory')).toBe(false)
  })

  it('answers a ticket for a room this worker does not own with a not_owner error', async () => {
    const c = client()
    const errors: string[] = []
    c.on('error', (e) => errors.push(e.code))
    const err = await c
      .joinWithTicket({ url: worker.addresses.clientUrl, ticket: await ticket('dave', { worldId: 'elsewhere' }) })
      .then(() => undefined, (e: unknown) => e)
    expect((err as TesseraClientError).code).toBe('not_owner')
    expect(c.state).toBe('closed')
    expect(joins).not.toContain('dave')
  })

  it('keeps serving the others through a flood of malformed packets and abrupt closes', async () => {
    const before = alice.stats().snapshots
    // Garbage: wrong opcodes, truncated inputs, bad control frames, as fast as it goes.
    const flood = await connect({ url: transport.url, port: transport.port, ticket: await ticket('flood'), timeoutMs: 10_000 })
    raw.push(flood)
    let floodClosed = false
    flood.onClose(() => {
      floodClosed = true
    })
    const garbage = [new Uint8Array([0x7f, 1, 2]), new Uint8Array([0x01, 0xff]), new Uint8Array([0x03, 9, 9, 9, 9]), new Uint8Array([0x01, 0, 1, 1, 200])]
    for (let i = 0; i < 400 && !floodClosed; i++) {
      flood.sendRaw(garbage[i % garbage.length] as Uint8Array)
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await eventually('the flooder is disconnected', () => floodClosed)

    // A raw geckos client closing inside its own connect callback.
    const { default: geckos } = await import('@geckos.io/client')
    const port = transport.port
    const abrupt = geckos({ url: transport.url, port, authorization: `Bearer ${await ticket('abrupt')}` })
    await new Promise<void>((resolve) => {
      void abrupt.onConnect(() => {
        abrupt.close()
        resolve()
      })
    })
    // A player that joins and vanishes at once.
    const gone = await joined('gone')
    gone.close()

    await eventually('flood, abrupt and gone have left the room', () =>
      !['flood', 'abrupt', 'gone'].some((p) => runner().hasPlayer(p)), 15_000)
    await eventually('alice still receives snapshots', () => alice.stats().snapshots > before + 20)
    const a = alice.self as number
    const x0 = alice.entity(a)?.x ?? 0
    const stop = alice.on('tick', () => alice.sendInput({ moveX: 1, moveY: 0 }))
    await eventually('alice still moves', () => (alice.entity(a)?.x ?? 0) > x0 + 1)
    stop()
    expect(runner().sim.stats().inputs.lost).toBe(0)
    expect(unhandled).toEqual([])
  })

  it('reconnects after the connection drops and resumes with a consistent entity set', async () => {
    const oldSelf = alice.self as number
    const b = bob.self as number
    // The game's view, rebuilt from events only: adds must be new, removals must be known.
    const mirror = new Map<number, EntityView>([...alice.entities()].map((e) => [e.id, e]))
    const problems: string[] = []
    alice.on('entityAdded', (e) => {
      if (mirror.has(e.id)) problems.push(`added twice: ${e.id}`)
      mirror.set(e.id, e)
    })
    alice.on('entityUpdated', (e) => {
      if (!mirror.has(e.id)) problems.push(`update of unknown ${e.id}`)
      mirror.set(e.id, e)
    })
    alice.on('entityRemoved', (e) => {
      if (!mirror.delete(e.id)) problems.push(`removal of unknown ${e.id}`)
    })
    const states: string[] = []
    alice.on('stateChange', ({ state }) => states.push(state))

    const serverSide = transport.connections('w1').find((c) => c.principal.playerId === 'alice')
    expect(serverSide).toBeDefined()
    serverSide?.close()

    await eventually('alice is back', () => alice.state === 'connected' && alice.self !== oldSelf, 15_000)
    expect(states).toEqual(['reconnecting', 'connected'])
    const newSelf = alice.self as number
    await eventually('alice sees herself and bob again', () => mirror.has(newSelf) && mirror.has(b) && !mirror.has(oldSelf))
    expect(problems).toEqual([])
    expect([...mirror.keys()].sort((x, y) => x - y)).toEqual(ids(alice))
    expect(alice.stats().reconnects).toBe(1)
    expect(runner().hasPlayer('alice')).toBe(true)
  })

  it('runs bots that walk, receive snapshots and have every input acknowledged in order', async () => {
    const swarm = await runBots({
      count: 4, hz: 20, behaviour: 'path', batch: 4,
      join: async (i) => ({ url: worker.addresses.clientUrl, ticket: await ticket(`bot-${i}`) }),
    })
    await eventually('bots walk', () => swarm.report().inputsSent > 4 * 20, 10_000)
    const report = await swarm.stop()
    expect(report).toMatchObject({ bots: 4, joined: 4, silentBots: 0, unacked: 0, ackRegressions: 0, badSnapshots: 0, ok: true })
    expect(report.snapshots).toBeGreaterThan(4 * 10)
    for (let i = 0; i < 4; i++) {
      const seqs = applied.get(`bot-${i}`) ?? []
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => k + 1))
      expect(seqs.length).toBe(report.perBot[i]?.stats.inputsSent)
    }
    await eventually('bots left', () => !runner().hasPlayer('bot-0'))
  })
})
