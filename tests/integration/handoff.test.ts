/**
 * Two workers in one process, one world cut in two (p1 on wA, p2 on wB), walkers pacing back and
 * forth across the border: every entity has exactly one owner at every sampled instant, none is lost
 * or duplicated, ghosts show across the border, stale offers are refused, and moving a leaf to the
 * other worker mid-run (as the coordinator does: new owner, epoch + 1) loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { encodeMap } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys, verifyTicket } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import type { CryptoKey } from 'jose'
import { DirectPlayer } from '../../scripts/bench/lib/direct-player.ts'
import type { Game } from '../../worker/game/types.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'
import { eastHalvesMap } from './helpers/worker-world.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 200, maxY: 100 }
const WALKERS = 24

interface Pace {
  dir: number
  speed: number
}

/** Walkers pace between x = 50 and x = 150, crossing the border at x = 100 both ways; players walk where their input points. */
const pacer: Game<Pace, { type: 'poke' }> = {
  name: 'pacer',
  spawn: (ctx, spec) => ({ x: spec.x ?? 90, y: spec.y ?? 50, state: { dir: ctx.rng.next() < 0.5 ? -1 : 1, speed: ctx.rng.range(20, 40) } }),
  input: (_ctx, e, input) => {
    e.state.dir = input.moveX
    e.state.speed = 30
  },
  tick: (ctx, dt) => {
    for (const e of ctx.entities()) {
      if (e.control === 'player') {
        e.vx = e.state.dir * e.state.speed
        e.x = Math.min(ctx.worldBounds.maxX, Math.max(ctx.worldBounds.minX, e.x + e.vx * dt))
        continue
      }
      if (e.x > 150) e.state.dir = -1
      if (e.x < 50) e.state.dir = 1
      e.vx = e.state.dir * e.state.speed
      e.x += e.vx * dt
    }
  },
  leave: () => undefined,
  message: () => undefined,
  wire: (_e, out) => {
    out.kind = 3
  },
}

function worldMap(p1: [string, number], p2: [string, number]): PartitionMap {
  return {
    worldId: 'w', bounds: BOUNDS, version: 1, nextId: 3,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: 100,
      low: { kind: 'leaf', id: 'p1', owner: p1[0], epoch: p1[1] },
      high: { kind: 'leaf', id: 'p2', owner: p2[0], epoch: p2[1] },
    },
  }
}

describe('entity handoff between workers', () => {
  const store = new MemoryStore()
  const keys = scopedKeys('/handoff/')
  let transport: ClientTransport<TicketClaims>
  let wA: Worker<Pace, { type: 'poke' }>
  let wB: Worker<Pace, { type: 'poke' }>
  let publicKey: CryptoKey

  beforeAll(async () => {
    const pair = await generateTicketKeys()
    publicKey = pair.publicKey
    transport = await ClientTransport.start<TicketClaims>({
      authorize: ticketAdmission(() => new Map([['k', publicKey]]), (id) => id === 'wA' || id === 'wB'),
    })
    const make = (id: string) =>
      new Worker<Pace, { type: 'poke' }>({
        store, keys, transport, logger: silentLogger(), game: () => pacer, ticketSigner: { privateKey: pair.privateKey, kid: 'k' },
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: 0, reportIntervalMs: 200, logLevel: 'silent', retireGraceMs: 5_000 }),
      })
    wA = make('wA')
    wB = make('wB')
    await wA.start()
    await wB.start()
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await store.put(keys.worldMap('w'), encodeMap(worldMap(['wA', 1], ['wB', 1])))
    await eventually('both partitions simulated', () => wA.partitions().includes('w:p1') && wB.partitions().includes('w:p2'))
    await eventually('the pair is linked', () => wA.links.connected().includes('wB') && wB.links.connected().includes('wA'))
    const p1 = wA.runner('w', 'p1')
    const p2 = wB.runner('w', 'p2')
    for (let i = 0; i < WALKERS / 2; i++) {
      p1?.sim.spawnNpc({ x: 55 + i * 3, y: 5 + i * 7 })
      p2?.sim.spawnNpc({ x: 145 - i * 3, y: 8 + i * 7 })
    }
  })

  afterAll(async () => {
    await wA.stop()
    await wB.stop()
    await transport.close()
    await store.close()
  })

  /** Owners per entity id now: runners simulating it, plus senders of offers not yet accepted. */
  function owners(): Map<number, string[]> {
    const out = new Map<number, string[]>()
    const add = (id: number, who: string) => out.set(id, [...(out.get(id) ?? []), who])
    for (const w of [wA, wB]) {
      for (const partition of ['p1', 'p2', 'p3', 'p4']) {
        for (const e of w.runner('w', partition)?.sim.allEntities() ?? []) add(e.id, `${w.id}/${partition}`)
      }
    }
    for (const [w, other] of [[wA, wB], [wB, wA]] as const) {
      for (const o of w.border.offersOut()) if (!other.border.accepted(o.handoffId) && !w.border.accepted(o.handoffId)) add(o.entityId, `${w.id}/offer`)
    }
    return out
  }

  async function sampleFor(ms: number, onSample?: () => void): Promise<number> {
    const until = Date.now() + ms
    let samples = 0
    while (Date.now() < until) {
      const seen = owners()
      expect(seen.size, 'entities conserved').toBe(WALKERS)
      for (const [id, who] of seen) expect(who, `owners of entity ${id}`).toHaveLength(1)
      onSample?.()
      samples++
      await new Promise((r) => setTimeout(r, 7 + (samples % 5)))
    }
    return samples
  }

  it('hands walkers back and forth across the border: one owner each at every instant, none lost', async () => {
    let ghostSeen = false
    const samples = await sampleFor(4_000, () => {
      const ghostsAtA = wA.runner('w', 'p1')?.sim.ghosts() ?? []
      if (ghostsAtA.some((g) => wB.runner('w', 'p2')?.sim.entity(g.id) !== undefined)) ghostSeen = true
    })
    expect(samples).toBeGreaterThan(100)
    expect(ghostSeen).toBe(true)
    expect(wA.border.stats.handoffsOut).toBeGreaterThan(3)
    expect(wB.border.stats.handoffsOut).toBeGreaterThan(3)
    expect(wA.border.stats.handoffsIn).toBeGreaterThan(3)
    expect(wB.border.stats.handoffsIn).toBeGreaterThan(3)
  })

  it('refuses an offer naming a stale epoch, and the ghosts of a stale source', async () => {
    const before = wB.border.stats.refused.stale_to_epoch ?? 0
    const entity = { id: 999_999, x: 150, y: 50, vx: 0, vy: 0, heading: 0, radius: 0.5, state: Buffer.from('{"dir":1,"speed":1}'), playerId: '', lastInputSeq: 0 }
    wB.border.receive('wA', [{
      frame: {
        $case: 'handoff',
        value: { handoffId: 'stale-1', from: { worldId: 'w', partitionId: 'p1', epoch: 1 }, to: { worldId: 'w', partitionId: 'p2', epoch: 0 }, tick: 0, entity, pendingInputs: [], relayWorker: '', mapVersion: 0 },
      },
    }])
    await eventually('refused', () => (wB.border.stats.refused.stale_to_epoch ?? 0) > before)
    expect(wB.runner('w', 'p2')?.sim.entity(999_999)).toBeUndefined()
    const stale = wB.border.ghosts.staleDropped
    wB.border.receive('wA', [{ frame: { $case: 'ghosts', value: { source: { worldId: 'w', partitionId: 'p1', epoch: 0 }, tick: 0, ghosts: [{ id: entity.id, x: entity.x, y: entity.y, heading: 0, speed: 0, kind: 0, flags: 0, hp: 0 }] } } }])
    await eventually('stale ghosts dropped', () => wB.border.ghosts.staleDropped > stale)
  })

  it('loses nothing when the map moves a leaf to the other worker and back mid-run', async () => {
    await store.put(keys.worldMap('w'), encodeMap({ ...worldMap(['wA', 1], ['wA', 2]), version: 2 }))
    await sampleFor(2_500)
    await eventually('wB handed p2 over', () => wB.runner('w', 'p2') === undefined)
    expect(wA.partitions()).toEqual(['w:p1', 'w:p2'])
    await store.put(keys.worldMap('w'), encodeMap({ ...worldMap(['wA', 1], ['wB', 3]), version: 3 }))
    await sampleFor(2_500)
    expect(wB.partitions()).toEqual(['w:p2'])
    expect(wB.runner('w', 'p2')?.sim.entityCount).toBeGreaterThan(0)
  })

  it('loses nothing when a leaf is split between the workers mid-run, and when it is merged back', async () => {
    const split = eastHalvesMap({ p1: 'wA', p3: 'wB', p4: 'wA' }, 4)
    await store.put(keys.worldMap('w'), encodeMap(split))
    await sampleFor(2_500)
    await eventually('p2 handed out', () => wB.runner('w', 'p2') === undefined)
    expect(wA.runner('w', 'p4')?.sim.entityCount).toBeGreaterThan(0)
    await store.put(keys.worldMap('w'), encodeMap({ ...worldMap(['wA', 1], ['wB', 4]), version: 5, nextId: 5 }))
    await sampleFor(2_500)
    await eventually('p3 and p4 merged back', () => wA.runner('w', 'p4') === undefined && wB.runner('w', 'p3') === undefined)
    expect(wB.runner('w', 'p2')?.sim.entityCount).toBeGreaterThan(0)
  })

  it('keeps a player whose entity crossed to the other worker: relayed inputs and snapshots, and a migrate ticket for the new owner', async () => {
    const player = new DirectPlayer({ playerId: 'alice', worldId: 'w', workerId: 'wA', partitionId: 'p1' })
    const p1 = wA.runner('w', 'p1')
    p1?.addPlayer(player.conn)
    const entityId = await eventually('joined', () => player.joinedEntity)
    await eventually('walked over and handed to wB', () => {
      player.walk(1)
      return wB.runner('w', 'p2')?.sim.playerEntity('alice') === entityId && !wB.runner('w', 'p2')?.sim.isRelay('alice')
    })
    expect(wA.runner('w', 'p1')?.sim.isRelay('alice')).toBe(true)
    const migrate = await eventually('migrate received', () => player.control.find((m) => m.kind === 'migrate'))
    if (migrate.kind !== 'migrate') throw new Error('not a migrate')
    expect(migrate.url).toBe(wB.addresses.clientUrl)
    expect(migrate.worldId).toBe('w')
    const claims = await verifyTicket(new Map([['k', publicKey]]), migrate.ticket, { workerId: 'wB' })
    expect(claims).toMatchObject({ playerId: 'alice', worldId: 'w', workerId: 'wB', partitionId: 'p2' })

    // The old connection still works: inputs reach the new owner, snapshots (with acks) keep coming.
    const xBefore = wB.runner('w', 'p2')?.sim.entity(entityId)?.x ?? 0
    const snapshotsBefore = player.snapshots
    const ackBefore = player.ackInputSeq
    for (let k = 0; k < 10; k++) {
      player.walk(1)
      await new Promise((r) => setTimeout(r, 50))
    }
    await eventually('inputs applied at wB', () => (wB.runner('w', 'p2')?.sim.entity(entityId)?.x ?? 0) > xBefore + 5)
    expect(player.snapshots - snapshotsBefore).toBeGreaterThan(5)
    expect(player.ackInputSeq).toBeGreaterThan(ackBefore)
    expect(player.receiver.entity(entityId)).toBeDefined()
    await eventually('every input applied at wB', () => wB.runner('w', 'p2')?.sim.lastInputSeq('alice') === player.seq)
    expect(wB.runner('w', 'p2')?.sim.stats().inputs.lost).toBe(0)

    // The player leaves through its old connection: its entity leaves the world at its new owner.
    player.close()
    await eventually('entity gone at wB', () => wB.runner('w', 'p2')?.sim.entity(entityId) === undefined)
  })

  it('accepts the migrating client directly: same entity, same input sequence, and the old connection may close', async () => {
    const old = new DirectPlayer({ playerId: 'dave', worldId: 'w', workerId: 'wA', partitionId: 'p1' })
    wA.runner('w', 'p1')?.addPlayer(old.conn)
    const entityId = await eventually('joined', () => old.joinedEntity)
    await eventually('over at wB', () => {
      old.walk(1)
      return wB.runner('w', 'p2')?.sim.playerEntity('dave') === entityId
    })
    const migrate = await eventually('migrate', () => old.control.find((m) => m.kind === 'migrate'))
    expect(migrate.kind).toBe('migrate')
    // What the client library does: connect to the new worker with the ticket, keep numbering
    // inputs where it was, switch, close the old connection.
    const fresh = new DirectPlayer({ playerId: 'dave', worldId: 'w', workerId: 'wB', partitionId: 'p2' })
    wB.runner('w', 'p2')?.addPlayer(fresh.conn)
    expect(await eventually('joined at wB', () => fresh.joinedEntity)).toBe(entityId)
    fresh.continueFrom(old.seq)
    old.close()
    for (let k = 0; k < 5; k++) {
      fresh.walk(-1)
      await new Promise((r) => setTimeout(r, 50))
    }
    await eventually('inputs through the new connection applied', () => wB.runner('w', 'p2')?.sim.lastInputSeq('dave') === fresh.seq)
    expect(wB.runner('w', 'p2')?.sim.entity(entityId)).toBeDefined()
    expect(wA.runner('w', 'p1')?.sim.playerEntity('dave')).toBeUndefined()
    expect(fresh.snapshots).toBeGreaterThan(0)
    fresh.close()
    await eventually('gone when it leaves', () => wB.runner('w', 'p2')?.sim.entity(entityId) === undefined)
  })

  it('takes a relayed player back when it walks home: the relay becomes its session again, inputs continue', async () => {
    const player = new DirectPlayer({ playerId: 'bob', worldId: 'w', workerId: 'wA', partitionId: 'p1' })
    wA.runner('w', 'p1')?.addPlayer(player.conn)
    const entityId = await eventually('joined', () => player.joinedEntity)
    await eventually('over at wB', () => {
      player.walk(1)
      return wB.runner('w', 'p2')?.sim.playerEntity('bob') === entityId && wA.runner('w', 'p1')?.sim.isRelay('bob')
    })
    await eventually('back at wA', () => {
      player.walk(-1)
      return wA.runner('w', 'p1')?.sim.entity(entityId) !== undefined && !wA.runner('w', 'p1')?.sim.isRelay('bob')
    })
    expect(wB.runner('w', 'p2')?.sim.entity(entityId)).toBeUndefined()
    await eventually('every input applied once', () => wA.runner('w', 'p1')?.sim.lastInputSeq('bob') === player.seq)
    expect(player.ackRegressions).toBe(0)
    player.close()
    await eventually('entity gone', () => wA.runner('w', 'p1')?.sim.entity(entityId) === undefined)
  })

  it('moves a player between two partitions of one worker in-process, without a gap in its snapshots', async () => {
    const map: PartitionMap = { ...worldMap(['wA', 1], ['wA', 1]), worldId: 'v' }
    await store.put(keys.world('v'), JSON.stringify({ id: 'v', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await store.put(keys.worldMap('v'), encodeMap(map))
    await eventually('v simulated', () => wA.partitions().includes('v:p1') && wA.partitions().includes('v:p2'))
    const player = new DirectPlayer({ playerId: 'carol', worldId: 'v', workerId: 'wA', partitionId: 'p1' })
    wA.runner('v', 'p1')?.addPlayer(player.conn)
    const entityId = await eventually('joined', () => player.joinedEntity)
    await eventually('in p2', () => {
      player.walk(1)
      return wA.runner('v', 'p2')?.hasPlayer('carol') && wA.runner('v', 'p2')?.sim.entity(entityId) !== undefined
    })
    expect(wA.runner('v', 'p1')?.hasPlayer('carol')).toBe(false)
    const before = player.snapshots
    for (let k = 0; k < 6; k++) {
      player.walk(1)
      await new Promise((r) => setTimeout(r, 50))
    }
    await eventually('every input applied once', () => wA.runner('v', 'p2')?.sim.lastInputSeq('carol') === player.seq)
    expect(player.snapshots).toBeGreaterThan(before)
    expect(player.maxTickGap).toBeLessThanOrEqual(1)
    expect(player.control.some((m) => m.kind === 'migrate')).toBe(false)
    player.close()
    await eventually('entity gone', () => wA.runner('v', 'p2')?.sim.entity(entityId) === undefined)
  })
})
