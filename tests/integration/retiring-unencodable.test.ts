/**
 * A partition moves to another worker while it holds an entity whose state the game cannot encode:
 * that entity's handover can never be made. The rest go; once the retiring grace is over, the old
 * runner gives the stuck entity up (an NPC is dropped, a player would be sent to join again) and
 * stops. Before, it kept running (re-offering it every retry wait) for as long as the game failed:
 * a partition that never ended, on ground another worker owned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game } from '../../worker/game/types.ts'
import { jsonCodec } from '../../worker/neighbours/codec.ts'
import { eventually } from '../helpers/eventually.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

/** The demo game, standing still, whose state codec throws for a state marked `poison`. */
function poisonable(): Game<DemoState, DemoMessage> {
  const demo = createDemoGame({ walkerSpeed: [0, 0] })
  const json = jsonCodec<DemoState>()
  return {
    ...demo,
    codec: {
      state: {
        encode: (s) => {
          if ((s as DemoState & { poison?: boolean }).poison) throw new Error('this state cannot be encoded')
          return json.encode(s)
        },
        decode: (b) => json.decode(b),
      },
      message: jsonCodec<DemoMessage>(),
    },
  }
}

describe('a retiring partition holding an entity the game cannot encode', () => {
  const world = new WorkerWorld('/retiring-unencodable/', { game: poisonable, worker: { reportIntervalMs: 100, retireGraceMs: 300 } })

  beforeAll(() => world.start())
  afterAll(() => world.stop())

  it('hands the others over, gives that one up after its grace, and stops', async () => {
    const { wA, wB } = world
    await world.createWorld()
    const p1 = wA.runner('w', 'p1')
    if (!p1) throw new Error('no p1')
    const ids = Array.from({ length: 20 }, (_, i) => p1.sim.spawnNpc({ x: 10 + i * 4, y: 50 }) as number)
    const poisoned = ids[7] as number
    ;(p1.sim.entity(poisoned)?.state as DemoState & { poison?: boolean }).poison = true

    await world.moveP1ToB()
    await eventually('the others on wB', () => wB.runner('w', 'p1')?.sim.entityCount === ids.length - 1, 10_000)
    // Held back while its grace runs: still simulated on wA, nowhere else.
    expect(wA.runner('w', 'p1')?.sim.entity(poisoned)).toBeDefined()
    await eventually('wA gave p1 up', () => wA.runner('w', 'p1') === undefined, 10_000, 20)
    expect(wB.runner('w', 'p1')?.sim.entity(poisoned)).toBeUndefined()
    for (const id of ids) if (id !== poisoned) expect(wB.runner('w', 'p1')?.sim.entity(id)).toBeDefined()
    expect(p1.gameErrors).toBeGreaterThan(0)
  })
})
