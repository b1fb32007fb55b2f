/**
 * The `hotspot` benchmark runs end to end on a small world (a smoke test, not a measurement): it
 * reports every metric the benchmark table names, conserves the world's entities, and leaves none
 * stuck out on offer. How fast it converges is the benchmark's business, not this test's.
 */
import { describe, expect, it } from 'vitest'
import hotspot, { convergeSeconds } from '../../scripts/bench/hotspot.ts'

describe('hotspot benchmark', () => {
  it('runs on a small world and reports its metrics with no entity lost', { timeout: 60_000 }, async () => {
    const result = await hotspot.run({
      bots: 400, seconds: 2, allVisible: false, store: 'memory', json: true,
      extra: { size: '256', speed: '200', warmup: '1', drain: '5', capacity: '20' },
    })
    for (const name of ['converge_s', 'moves', 'flips', 'entities_lost', 'max_mean_after']) expect(result.metrics).toHaveProperty(name)
    expect(result.metrics['entities']).toBe(400)
    // The run's notes say why, should an entity be lost or still held.
    const why = result.notes?.join('\n')
    expect(result.metrics['entities_lost'], why).toBe(0)
    expect(result.metrics['entities_stuck_after_drain'], why).toBe(0)
  })
})

describe('convergence time', () => {
  const at = (t: number, v: number) => ({ t, v })
  const samples = [at(0, 3), at(250, 2), at(500, 1.1), at(750, 1.3), at(1000, 1.2), at(1250, 1.1), at(1500, 1.0), at(1750, 1.1), at(2000, 1.1)]

  it('is the time from the crowd forming until the balance holds for the whole hold time', () => {
    expect(convergeSeconds(samples, 0, (s) => s.v, 1.25, 1000)).toBe(1)
  })

  it('is NaN when the run ends before the balance has held long enough', () => {
    expect(convergeSeconds(samples, 0, (s) => s.v, 1.25, 3000)).toBeNaN()
    expect(convergeSeconds(samples.map((s) => ({ ...s, v: 2 })), 0, (s) => s.v, 1.25, 500)).toBeNaN()
  })
})
