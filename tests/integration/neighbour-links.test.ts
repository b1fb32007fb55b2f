/**
 * Two `LinkSet`s over a real gRPC stream on 127.0.0.1: what one flush of queued frames looks like at
 * the peer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGrpcServer } from '../../core/grpc.ts'
import type { RunningGrpcServer } from '../../core/grpc.ts'
import { silentLogger } from '../../core/log.ts'
import { NeighbourServiceService } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { LinkSet } from '../../worker/neighbours/links.ts'
import { eventually } from '../helpers/eventually.ts'

const ref = { worldId: 'w', partitionId: 'p1', epoch: 1 }

function ghosts(tick: number): NeighbourFrame {
  return { frame: { $case: 'ghosts', value: { source: ref, tick, upserts: [], removed: [] } } }
}

function offer(handoffId: string): NeighbourFrame {
  return {
    frame: {
      $case: 'handoff',
      value: { handoffId, from: ref, to: { ...ref, partitionId: 'p2' }, tick: 1, entity: undefined, pendingInputs: [], relayWorker: '' },
    },
  }
}

describe('neighbour links', () => {
  const received: { peer: string; frames: NeighbourFrame[] }[] = []
  let server: RunningGrpcServer
  let a: LinkSet
  let b: LinkSet

  beforeAll(async () => {
    b = new LinkSet({ workerId: 'b', logger: silentLogger(), owned: () => [], onFrames: (peer, frames) => received.push({ peer, frames }) })
    server = await startGrpcServer('127.0.0.1', 0, [
      {
        definition: NeighbourServiceService,
        implementation: { link: b.serve, transferPartition: () => undefined },
      },
    ])
    // The lower id dials.
    a = new LinkSet({ workerId: 'a', logger: silentLogger(), owned: () => [], onFrames: () => undefined })
    a.setPeers(new Map([['b', server.address]]))
    await eventually('the link', () => b.connected().includes('a'))
  })

  afterAll(async () => {
    a.stop()
    b.stop()
    await server.stop(100)
  })

  it('delivers a flush as the non-ghost frames first, in their order, then the ghost batches', async () => {
    a.send('b', ghosts(1))
    a.send('b', offer('a.1'))
    a.send('b', ghosts(2))
    a.send('b', offer('a.2'))
    a.flush()
    await eventually('both messages', () => received.length >= 2)
    expect(received.map((r) => r.peer)).toEqual(['a', 'a'])
    expect(received.map((r) => r.frames.map((f) => (f.frame?.$case === 'handoff' ? f.frame.value.handoffId : f.frame?.$case === 'ghosts' ? `ghosts@${f.frame.value.tick}` : '')))).toEqual([
      ['a.1', 'a.2'],
      ['ghosts@1', 'ghosts@2'],
    ])
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
})
