/**
 * A room has no neighbours: a message its game sends to an entity not in it is dropped, not kept
 * for a border that will never take it (it would pile up for the room's whole life).
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game } from '../../worker/game/types.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'

const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }

describe('messages in a room', () => {
  it('drops those for entities not in the room, and delivers the rest', () => {
    const demo = createDemoGame()
    let delivered = 0
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      tick(ctx, dt) {
        demo.tick(ctx, dt)
        const [first, second] = [...ctx.entities()]
        if (!first || !second) return
        ctx.send(first.id, 999_999, { type: 'bump', strength: 1 })
        ctx.send(first.id, second.id, { type: 'bump', strength: 1 })
      },
      message: () => {
        delivered++
      },
    }
    const runner = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'r', partitionId: 'p0', epoch: 1, kind: 'room', rect, worldBounds: rect, maxPlayers: 8,
      game, seed: 1, tickRate: 20, interestRadius: 50, npcs: 2, logger: silentLogger(),
    })
    for (let i = 0; i < 100; i++) runner.tick()
    expect(runner.sim.stats().outboundMessages).toBe(0)
    expect(delivered).toBeGreaterThanOrEqual(98)
  })
})
