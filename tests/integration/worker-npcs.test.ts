/**
 * A world partition starts with its share of the world's NPCs, numbered from the world's id
 * blocks in the store. One whose share is more than the worker's spare blocks hold waits for
 * enough of them instead of running out halfway (which threw out of the worker's reconcile and
 * ended the process).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DebugEntities } from '../../worker/debug-entities.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import { eventually } from '../helpers/eventually.ts'
import { BOUNDS } from '../helpers/test-maps.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

/** More than the 8 spare blocks of 1,024 ids a worker keeps per world. */
const NPCS = 10_000

describe('a partition with many NPCs', () => {
  let world: WorkerWorld<DemoState, DemoMessage>

  beforeAll(async () => {
    world = new WorkerWorld('/npcs', { game: () => createDemoGame({ walkerSpeed: [0, 0] }), ids: ['wA'], worker: { npcs: NPCS, tickRate: 5 } })
    await world.start()
    await world.createWorld({ worldId: 'w', bounds: BOUNDS, version: 1, nextId: 1, root: { kind: 'leaf', id: 'p0', owner: 'wA', epoch: 1 } })
  })
  afterAll(async () => {
    await world.stop()
  })

  it('starts with all of them, each with its own id', async () => {
    const entities = await eventually('the partition simulated', async () => {
      const res = await fetch(`${world.wA.addresses.ops}/debug/entities`)
      const body = (await res.json()) as DebugEntities
      return body.partitions.find((p) => p.partitionId === 'p0')?.entities
    })
    expect(entities).toHaveLength(NPCS)
    expect(new Set(entities.map((e) => e.id)).size).toBe(NPCS)
  })
})
