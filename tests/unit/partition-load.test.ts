/**
 * The load a partition reports is the work of the ticks since its previous report: a crowd that
 * forms shows in full in the next report, not diluted over the last 200 ticks nor smoothed by the worker.
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game } from '../../worker/game/types.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'

const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }

/** A runner on a clock that only the game moves: each tick "costs" `cost.ms`. */
function timedRunner(): { runner: PartitionRunner<DemoState, DemoMessage>; cost: { ms: number } } {
  const clock = { t: 0 }
  const cost = { ms: 1 }
  const demo = createDemoGame()
  const game: Game<DemoState, DemoMessage> = {
    ...demo,
    tick(ctx, dt) {
      demo.tick(ctx, dt)
      clock.t += cost.ms
    },
  }
  const runner = new PartitionRunner<DemoState, DemoMessage>({
    worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
    game, seed: 1, tickRate: 20, interestRadius: 50, npcs: 5, logger: silentLogger(), now: () => clock.t,
  })
  return { runner, cost }
}

describe('partition load report', () => {
  it('reports the tick cost of the ticks since the previous report', () => {
    const { runner, cost } = timedRunner()
    for (let i = 0; i < 200; i++) runner.tick()
    // 1 ms a tick at 20 Hz: 20 ms of work per second.
    expect(runner.load().tickCostMs).toBeCloseTo(20, 5)
    cost.ms = 5
    for (let i = 0; i < 20; i++) runner.tick()
    const mean = runner.load()
    // 100 ms/s now, reported as it is (the planner smooths; the worker does not). Averaged over the
    // last 200 ticks the jump would have shown as 28 ms/s.
    expect(mean.tickMsMean).toBeCloseTo(5, 5)
    expect(mean.tickCostMs).toBeCloseTo(100, 5)
    // The summary's weights add up to the cost.
    expect(mean.summary.reduce((s, w) => s + w.weight, 0)).toBeCloseTo(100, 5)
  })

  it('keeps the last figure when no tick ran since the previous report', () => {
    const { runner } = timedRunner()
    for (let i = 0; i < 20; i++) runner.tick()
    expect(runner.load().tickCostMs).toBeCloseTo(20, 5)
    expect(runner.load().tickCostMs).toBeCloseTo(20, 5)
  })
})
