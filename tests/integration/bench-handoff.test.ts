/**
 * The `handoff` benchmark runs end to end on a few players (a smoke test, not a measurement), with
 * in-memory players and with player-library clients in a child process of their own: it reports
 * the metrics the benchmark table names, its players cross and keep every input, and the world
 * keeps its entities. How fast handoffs are is the benchmark's business, not this test's.
 */
import { describe, expect, it } from 'vitest'
import handoff from '../../scripts/bench/handoff.ts'

describe('handoff benchmark', () => {
  for (const clients of ['memory', 'webrtc']) {
    it(`runs with ${clients} players and reports its metrics with nothing lost`, { timeout: 90_000 }, async () => {
      const result = await handoff.run({
        bots: 3, seconds: 5, allVisible: false, store: 'memory', json: true,
        extra: { clients, warmup: '1', npcs: '10' },
      })
      const why = result.notes?.join('\n')
      for (const name of ['handoffs', 'handoff_ms_p50', 'handoff_ms_p99', 'gap_ms_p99', 'tick_ms', 'inputs_lost', 'entities_lost']) expect(result.metrics).toHaveProperty(name)
      expect(result.metrics['measured_handoffs'], why).toBeGreaterThan(0)
      expect(result.metrics['inputs_lost'], why).toBe(0)
      expect(result.metrics['entities_lost'], why).toBe(0)
      // Snapshots kept coming to every player through the window (a gap per tick, give or take).
      expect(result.metrics['gap_ms_p99'], why).toBeGreaterThan(0)
      // The players walked across: the clients switched worker, the in-memory players stayed on
      // wA's relay.
      if (clients === 'webrtc') expect(result.metrics['migrations'], why).toBeGreaterThan(0)
      else expect(result.metrics['migrations'], why).toBe(0)
    })
  }
})
