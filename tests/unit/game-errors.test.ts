/**
 * Game code that throws costs its partition the rest of that tick's game logic, not the worker:
 * the runner's tick returns, the step still ends (despawns asked for, the tick number, the
 * interest index), and the next tick runs as usual. Before, the error left the worker's tick loop
 * and stopped every partition of the worker while it stayed registered.
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game } from '../../worker/game/types.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'

const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }

describe('a game that throws during a tick', () => {
  it('loses that tick’s remaining logic only; the partition goes on', () => {
    const demo = createDemoGame({ walkerSpeed: [0, 0] })
    const ticked: number[] = []
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      tick(ctx, dt) {
        if (ctx.tick === 3) {
          const [first] = [...ctx.entities()]
          if (first) ctx.despawn(first.id)
          throw new Error('game bug')
        }
        demo.tick(ctx, dt)
        ticked.push(ctx.tick)
      },
    }
    const runner = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
      game, seed: 1, tickRate: 20, interestRadius: 50, npcs: 3, logger: silentLogger(),
    })
    for (let i = 0; i < 6; i++) expect(() => runner.tick()).not.toThrow()
    expect(runner.gameErrors).toBe(1)
    expect(ticked).toEqual([0, 1, 2, 4, 5])
    expect(runner.sim.tick).toBe(5)
    // The despawn it asked for before throwing still happened.
    expect(runner.sim.entityCount).toBe(2)
  })

  it('starts a partition whose game fails to spawn one of its NPCs with those it could spawn', () => {
    const demo = createDemoGame()
    let spawned = 0
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      spawn(ctx, spec) {
        if (++spawned === 3) throw new Error('no room for another NPC')
        return demo.spawn(ctx, spec)
      },
    }
    const runner = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
      game, seed: 1, tickRate: 20, interestRadius: 50, npcs: 5, logger: silentLogger(),
    })
    expect(runner.sim.entityCount).toBe(2)
    runner.tick()
    expect(runner.sim.tick).toBe(0)
  })
})
