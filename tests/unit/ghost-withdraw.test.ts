/**
 * A partition that stops showing ghosts to a worker (its border with that worker is gone, as in a
 * merge, or the partition stopped) sends it one empty batch, so the entities it showed go at once
 * rather than standing frozen on the peer until their batch fades.
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import type { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { GhostStore } from '../../worker/neighbours/ghosts.ts'
import { publishGhosts, withdrawGhosts } from '../../worker/neighbours/traffic.ts'
import type { TrafficContext } from '../../worker/neighbours/traffic.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'
import { BOUNDS, splitMap } from '../helpers/test-maps.ts'

const SPLIT = splitMap('wA', 1)
/** p1 and p2 merged into p3 (wB's): p1's leaf is gone, so it has no border with anyone. */
const MERGED: PartitionMap = { ...SPLIT, version: 2, nextId: 4, root: { kind: 'leaf', id: 'p3', owner: 'wB', epoch: 2 } }

function setup() {
  let map = SPLIT
  const sent: Array<{ peer: string; ids: number[]; partition: string }> = []
  const c: TrafficContext = {
    workerId: 'wA', ghostMargin: 16, ghosts: new GhostStore(), relayedBy: new Map(), stats: { messagesOut: 0, messagesDropped: 0 },
    tick: () => 1,
    map: () => map,
    sendRemote: (peer: string, frame: NeighbourFrame) => {
      if (frame.frame?.$case === 'ghosts') sent.push({ peer, ids: frame.frame.value.ghosts.map((g) => g.id), partition: frame.frame.value.source?.partitionId ?? '' })
      return true
    },
    send: () => undefined,
    runnerOwning: () => undefined,
    follows: () => false,
    held: () => [],
    published: new Map(),
  }
  const p1 = new PartitionRunner({
    worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect: { minX: 0, minY: 0, maxX: 100, maxY: 100 }, worldBounds: BOUNDS,
    maxPlayers: undefined, game: createDemoGame({ walkerSpeed: [0, 0] }), seed: 1, tickRate: 20, interestRadius: 100, npcs: 0, logger: silentLogger(),
  })
  const near = p1.sim.spawnNpc({ x: 95, y: 50 })
  p1.sim.spawnNpc({ x: 20, y: 50 })
  return { c, p1, near, sent, setMap: (m: PartitionMap) => { map = m } }
}

describe('ghosts withdrawn', () => {
  it('sends one empty batch to a worker it no longer borders', () => {
    const { c, p1, near, sent, setMap } = setup()
    publishGhosts(c, p1 as PartitionRunner<unknown, unknown>)
    expect(sent).toEqual([{ peer: 'wB', ids: [near], partition: 'p1' }])
    setMap(MERGED)
    publishGhosts(c, p1 as PartitionRunner<unknown, unknown>)
    expect(sent.slice(1)).toEqual([{ peer: 'wB', ids: [], partition: 'p1' }])
    // Once told, not again.
    publishGhosts(c, p1 as PartitionRunner<unknown, unknown>)
    expect(sent).toHaveLength(2)
  })

  it('sends one empty batch to each worker a stopped partition showed ghosts to', () => {
    const { c, p1, near, sent } = setup()
    publishGhosts(c, p1 as PartitionRunner<unknown, unknown>)
    withdrawGhosts(c, new Set([p1.key]))
    expect(sent).toEqual([{ peer: 'wB', ids: [near], partition: 'p1' }])
    withdrawGhosts(c, new Set())
    expect(sent.slice(1)).toEqual([{ peer: 'wB', ids: [], partition: 'p1' }])
    withdrawGhosts(c, new Set())
    expect(sent).toHaveLength(2)
  })
})
