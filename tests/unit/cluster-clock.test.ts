/** Where in the tick interval each worker ticks: spread out, whatever order workers come in. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { spreadPhase } from '../../core/cluster-clock.ts'

describe('spreadPhase', () => {
  it('halves the widest gap: 0, then ½, then the quarters', () => {
    const taken: number[] = []
    for (let k = 0; k < 4; k++) taken.push(spreadPhase(taken))
    expect(taken).toEqual([0, 0.5, 0.75, 0.25])
    expect(spreadPhase([0.9])).toBeCloseTo(0.4)
    expect(spreadPhase([0.1, 0.2])).toBeCloseTo(0.65)
  })

  it('always picks a phase in [0, 1) at least half the widest gap away from every taken one', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 20 }), (taken) => {
        const p = spreadPhase(taken)
        expect(p).toBeGreaterThanOrEqual(0)
        expect(p).toBeLessThan(1)
        if (taken.length === 0) return
        const circular = (a: number, b: number) => Math.min(Math.abs(a - b), 1 - Math.abs(a - b))
        const sorted = [...taken].sort((a, b) => a - b)
        const widest = Math.max(...sorted.map((x, k) => (k === 0 ? x + 1 - (sorted.at(-1) as number) : x - (sorted[k - 1] as number))))
        for (const t of taken) expect(circular(p, t)).toBeGreaterThanOrEqual(widest / 2 - 1e-9)
      }),
    )
  })

  it('ignores phases out of range (a record from elsewhere)', () => {
    expect(spreadPhase([-1, 1, 2])).toBe(0)
  })
})
