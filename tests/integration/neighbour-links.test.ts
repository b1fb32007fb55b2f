/**
 * Two `LinkSet`s over a real gRPC stream on 127.0.0.1: what one flush of queued frames looks like at
 * the peer.
 */
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGrpcServer } from '../../core/grpc.ts'
import type { RunningGrpcServer } from '../../core/grpc.ts'
import { silentLogger } from '../../core/log.ts'
import { NeighbourServiceService } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { EntityState, GhostState, NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { LINK_SERVER_OPTIONS, LinkSet, MAX_MESSAGE_BYTES, approxBytes } from '../../worker/neighbours/links.ts'
import { eventually } from '../helpers/eventually.ts'

const ref = { worldId: 'w', partitionId: 'p1', epoch: 1 }

function ghosts(tick: number, source = ref, list: GhostState[] = []): NeighbourFrame {
  return { frame: { $case: 'ghosts', value: { source, tick, ghosts: list } } }
}

function reply(handoffId: string): NeighbourFrame {
  return { frame: { $case: 'handoffReply', value: { handoffId, accepted: true, reason: '', clientUrl: '', ticket: '' } } }
}

/** A ghost batch as a crowd at a border makes it: n entities, players among them. */
function crowd(n: number): GhostState[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1, x: i + 0.1, y: i + 0.2, heading: 0.3, speed: 1.5, kind: 1, flags: 0, hp: 100, ...(i % 2 === 0 ? { lastInputSeq: i } : {}),
  }))
}

/** An entity as an offer carries it, with `bytes` bytes of game state. */
function entityState(i: number, bytes: number): EntityState {
  return { id: i + 1, x: i, y: i, vx: 1, vy: 1, heading: 0, radius: 0.5, state: Buffer.alloc(bytes, i), playerId: '', lastInputSeq: 0 }
}

const label = (f: NeighbourFrame): string =>
  f.frame?.$case === 'handoff' ? f.frame.value.handoffId
    : f.frame?.$case === 'handoffReply' ? `reply:${f.frame.value.handoffId}`
      : f.frame?.$case === 'ghosts' ? `ghosts@${f.frame.value.tick}` : ''

function offer(handoffId: string): NeighbourFrame {
  return {
    frame: {
      $case: 'handoff',
      value: { handoffId, from: ref, to: { ...ref, partitionId: 'p2' }, tick: 1, entity: undefined, pendingInputs: [], relayWorker: '', mapVersion: 0 },
    },
  }
}

describe('neighbour links', () => {
  const received: { peer: string; frames: NeighbourFrame[] }[] = []
  const receivedByA: { peer: string; frames: NeighbourFrame[] }[] = []
  let server: RunningGrpcServer
  let a: LinkSet
  let b: LinkSet

  beforeAll(async () => {
    b = new LinkSet({ workerId: 'b', logger: silentLogger(), owned: () => [], onFrames: (peer, frames) => received.push({ peer, frames }) })
    server = await startGrpcServer('127.0.0.1', 0, [
      {
        definition: NeighbourServiceService,
        implementation: { link: b.serve },
      },
    ], LINK_SERVER_OPTIONS)
    // The lower id dials.
    a = new LinkSet({ workerId: 'a', logger: silentLogger(), owned: () => [], onFrames: (peer, frames) => receivedByA.push({ peer, frames }) })
    a.setPeers(new Map([['b', server.address]]))
    await eventually('the link', () => b.connected().includes('a'))
  })

  afterAll(async () => {
    a.stop()
    b.stop()
    await server.stop(100)
  })

  it('delivers a flush as the non-ghost frames first, in their order, then the newest ghost batch of each source', async () => {
    const p3 = { ...ref, partitionId: 'p3' }
    a.send('b', ghosts(1))
    a.send('b', offer('a.1'))
    a.send('b', ghosts(1, p3))
    a.send('b', ghosts(2))
    a.send('b', offer('a.2'))
    a.flush()
    await eventually('both messages', () => received.length >= 2)
    expect(received.map((r) => r.peer)).toEqual(['a', 'a'])
    expect(received.map((r) => r.frames.map(label))).toEqual([
      ['a.1', 'a.2'],
      ['ghosts@2', 'ghosts@1'],
    ])
  })

  it("carries a partition's transfer larger than gRPC's default 4 MB message, both ways", async () => {
    // 12,000 entities with 500 bytes of state each: ~6.5 MB in one frame.
    const offers = Array.from({ length: 12_000 }, (_, i) => {
      const o = offer(`big.${i}`).frame
      if (o?.$case !== 'handoff') throw new Error('not an offer')
      return { ...o.value, entity: entityState(i, 500) }
    })
    const transfer: NeighbourFrame = { frame: { $case: 'transfer', value: { offers } } }
    received.length = 0
    receivedByA.length = 0
    a.send('b', transfer)
    a.flush()
    b.send('a', transfer)
    b.flush()
    const count = (got: typeof received) => got.flatMap((r) => r.frames).reduce((n, f) => n + (f.frame?.$case === 'transfer' ? f.frame.value.offers.length : 0), 0)
    await eventually('the transfer, both ways', () => count(received) === offers.length && count(receivedByA) === offers.length, 10_000)
    expect(b.connected()).toContain('a')
  })

  it('splits a burst of frames into messages of a bounded size, in order', async () => {
    received.length = 0
    // 12 offers of ~64 KB each: ~770 KB, three or four messages of at most ~256 KB.
    for (let i = 0; i < 12; i++) {
      const o = offer(`chunk.${i}`).frame
      if (o?.$case !== 'handoff') throw new Error('not an offer')
      a.send('b', { frame: { $case: 'handoff', value: { ...o.value, entity: entityState(i, 64 * 1024) } } })
    }
    a.flush()
    await eventually('every offer', () => received.flatMap((r) => r.frames).length >= 12)
    expect(received.flatMap((r) => r.frames.map(label))).toEqual(Array.from({ length: 12 }, (_, i) => `chunk.${i}`))
    expect(received.length).toBeGreaterThanOrEqual(3)
    for (const r of received) expect(r.frames.reduce((n, f) => n + approxBytes(f), 0)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
  })

  it('sends a flush without ghost batches as one message', async () => {
    received.length = 0
    a.send('b', offer('a.3'))
    a.flush()
    a.send('b', ghosts(3))
    a.flush()
    await eventually('both flushes', () => received.length >= 2)
    expect(received.map((r) => r.frames.length)).toEqual([1, 1])
    expect(received[0]?.frames[0]?.frame?.$case).toBe('handoff')
    expect(received[1]?.frames[0]?.frame?.$case).toBe('ghosts')
  })

  it('keeps a reply from waiting behind ghost batches the stream could not send yet', async () => {
    // Many ticks' ghosts of a crowd written faster than the stream sends them (all in one turn of
    // the event loop, so no write can complete meanwhile), then a reply: gRPC alone would buffer
    // every batch and deliver the reply after all of them.
    received.length = 0
    const batch = crowd(4_000)
    const ticks = 200
    for (let t = 1; t <= ticks; t++) {
      a.send('b', ghosts(t, ref, batch))
      a.flush()
    }
    a.send('b', reply('b.1'))
    a.send('b', offer('a.4'))
    a.send('b', offer('a.4'))
    a.flush()
    const seen = () => received.flatMap((r) => r.frames.map(label))
    await eventually('the reply and the last ghost batch', () => seen().includes('reply:b.1') && seen().includes(`ghosts@${ticks}`))
    const order = seen()
    const before = order.indexOf('reply:b.1')
    // At most the batch being sent when the reply was queued goes ahead of it.
    expect(order.slice(0, before).filter((l) => l.startsWith('ghosts@')).length).toBeLessThanOrEqual(1)
    expect(order[before + 1]).toBe('a.4')
    // The offer queued twice is written once; superseded batches are not written at all.
    expect(order.filter((l) => l === 'a.4')).toHaveLength(1)
    expect(order.filter((l) => l.startsWith('ghosts@')).length).toBeLessThanOrEqual(2)
    expect(order[order.length - 1]).toBe(`ghosts@${ticks}`)
    expect(a.counters.ghostsSuperseded).toBeGreaterThanOrEqual(ticks - 2)
    expect(a.queued('b')).toMatchObject({ control: 0, ghosts: 0, inFlight: 0 })
  })
})

describe('a neighbour link whose stream stops taking writes', () => {
  const seen: string[] = []
  let wedged: Server
  const wedgedSockets: Socket[] = []
  let wedgedAddress: string
  let server: RunningGrpcServer
  let a: LinkSet
  let b: LinkSet

  beforeAll(async () => {
    // A peer that takes the connection and never reads from it: the writer's stream opens, its
    // writes never complete, and nothing errors or ends.
    wedged = createServer((socket) => {
      wedgedSockets.push(socket)
      socket.pause()
    })
    await new Promise<void>((resolve) => wedged.listen(0, '127.0.0.1', resolve))
    wedgedAddress = `127.0.0.1:${(wedged.address() as AddressInfo).port}`
    b = new LinkSet({ workerId: 'b', logger: silentLogger(), owned: () => [], onFrames: (_peer, frames) => seen.push(...frames.map(label)) })
    server = await startGrpcServer('127.0.0.1', 0, [{ definition: NeighbourServiceService, implementation: { link: b.serve } }])
    // The first dial lands on the wedged peer; a re-opened link dials where the peer really is.
    a = new LinkSet({ workerId: 'a', logger: silentLogger(), owned: () => [], onFrames: () => undefined, stallMs: 300, addressOf: () => server.address })
    a.setPeers(new Map([['b', wedgedAddress]]))
    await eventually('the link', () => a.connected().includes('b'))
  })

  afterAll(async () => {
    a.stop()
    b.stop()
    await server.stop(100)
    await new Promise<void>((resolve) => {
      wedged.close(() => resolve())
      for (const socket of wedgedSockets) socket.destroy()
    })
  })

  it('is re-opened, and every reply written to the wedged stream reaches the peer on the new one', async () => {
    // Flushes of replies; none can complete.
    const ids = Array.from({ length: 20_000 }, (_, i) => `a.${i + 1}`)
    for (let r = 0; r < 10; r++) {
      for (const id of ids.slice(r * 2_000, (r + 1) * 2_000)) a.send('b', reply(id))
      a.flush()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(a.queued('b').inFlight).toBeGreaterThan(0)
    await eventually('the stall is noticed and the link re-opened on the real peer', () => {
      a.flush()
      return a.counters.stalls >= 1 && b.connected().includes('a')
    }, 10_000)
    await eventually('every reply arrived', () => {
      a.flush()
      const got = new Set(seen)
      return ids.every((id) => got.has(`reply:${id}`))
    }, 10_000)
    expect(a.queued('b')).toMatchObject({ control: 0, inFlight: 0 })
  })
})

