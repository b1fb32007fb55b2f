/** The cluster simulator: minutes of simulated time on several seeds, with a hotspot forming and dispersing. */
import { describe, expect, it } from 'vitest'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { runSimulation } from '../../scripts/sim/simulator.ts'

const K = plannerConfig().maxMovesPerRound

describe('cluster simulator', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 3 simulated minutes keep every invariant, converge within 3 s of the hotspot, never flip`, () => {
      const r = runSimulation({ seed, seconds: 180, entities: 12_000 })
      expect(r.problems).toEqual([])
      expect(r.rounds).toBe(180)
      // The hotspot really unbalances the cluster before the planner answers it...
      expect(r.splits).toBeGreaterThan(0)
      expect(r.moves).toBeGreaterThan(0)
      // ...and the planner brings it back fast, without thrashing.
      expect(r.convergeS).toBeLessThanOrEqual(3)
      expect(r.flips).toBe(0)
      expect(r.maxMovesInRound).toBeLessThanOrEqual(K)
      expect(r.finalImbalance).toBeLessThanOrEqual(1.25)
      // Once the crowd has dispersed, cold pieces merge back.
      expect(r.merges).toBeGreaterThan(0)
    })
  }

  it('re-homes a dead worker\'s partitions and empties a draining one in the next round, invariants intact', () => {
    const r = runSimulation({ seed: 4, seconds: 120, entities: 8000, hotspotAt: 20, disperseAt: 80, failAt: 40, drainAt: 60 })
    expect(r.problems).toEqual([])
    expect(r.failoverRounds).toBe(1)
    expect(r.drainRounds).toBe(1)
    expect(r.finalImbalance).toBeLessThanOrEqual(1.25)
    expect(r.flips).toBe(0)
  })

  it('is deterministic: the same seed gives the same run', () => {
    const a = runSimulation({ seed: 9, seconds: 60, entities: 4000, hotspotAt: 10, disperseAt: 40 })
    const b = runSimulation({ seed: 9, seconds: 60, entities: 4000, hotspotAt: 10, disperseAt: 40 })
    expect(a).toEqual(b)
    const c = runSimulation({ seed: 10, seconds: 60, entities: 4000, hotspotAt: 10, disperseAt: 40 })
    expect(c.imbalance).not.toEqual(a.imbalance)
  })

  it('without a planner answer the hotspot would unbalance the cluster (the test can fail)', () => {
    // With balancing switched off (no moves, no splits), the crowd leaves one worker far above the bound.
    const r = runSimulation({ seed: 1, seconds: 90, entities: 8000, planner: { maxMovesPerRound: 0, maxSplitsPerRound: 0, maxShiftsPerRound: 0 } })
    expect(r.worstImbalance).toBeGreaterThan(1.5)
    expect(r.convergeS).toBeGreaterThan(3)
  })
})
