/**
 * An entity out on offer is taken out of its partition's simulation until the receiver answers,
 * but its partition still publishes it as a ghost: players across the border do not lose sight of
 * it while the offer waits (offers are paced per peer, so a big handover holds many at once).
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import type { WorkerRecord } from '../../core/records.ts'
import type { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { Border } from '../../worker/neighbours/border.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'
import { BOUNDS, splitMap } from '../helpers/test-maps.ts'

const SPLIT = splitMap('wA', 1)

describe('an entity out on offer', () => {
  it('stays in its partition’s ghost batches until the answer', () => {
    const frames: Array<{ peer: string; frame: NeighbourFrame }> = []
    const runners: PartitionRunner<unknown, unknown>[] = []
    const border = new Border({
      workerId: 'wA', logger: silentLogger(), ghostMargin: 16, clientUrl: 'http://127.0.0.1:1',
      map: () => SPLIT,
      workers: () => new Map([['wB', {} as WorkerRecord]]),
      runners: () => runners,
      runner: () => runners[0],
      sendRemote: (peer, frame) => {
        frames.push({ peer, frame })
        return true
      },
    })
    const p1 = new PartitionRunner({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect: { minX: 0, minY: 0, maxX: 100, maxY: 100 }, worldBounds: BOUNDS,
      maxPlayers: undefined, game: createDemoGame({ walkerSpeed: [0, 0] }), seed: 1, tickRate: 20, interestRadius: 100, npcs: 0,
      logger: silentLogger(), border,
    }) as PartitionRunner<unknown, unknown>
    runners.push(p1)
    // Standing 6 units into p2 (past the 4-unit band): offered to wB at the first tick boundary.
    const id = p1.sim.spawnNpc({ x: 106, y: 50 })
    const ghostIds = () => frames.filter((f) => f.frame.frame?.$case === 'ghosts').map((f) => (f.frame.frame?.$case === 'ghosts' ? f.frame.frame.value.ghosts.map((g) => g.id) : []))
    const offers = () => frames.filter((f) => f.frame.frame?.$case === 'handoff')

    for (let tick = 1; tick <= 3; tick++) {
      border.beforeTick(tick)
      p1.tick()
      border.afterTick()
    }
    expect(offers()).toHaveLength(1)
    expect(p1.sim.entity(id)).toBeUndefined()
    expect(border.offersOut().map((o) => o.entityId)).toEqual([id])
    // Every tick's batch to wB shows it: the one before the offer and those while it waits.
    expect(ghostIds()).toEqual([[id], [id], [id]])
  })
})
