/**
 * The dashboard's pure parts: entity dots sampled from load summaries (deterministic, about one per
 * entity, inside the cells that hold the load, capped) and the border interpolation.
 */
import { describe, expect, it } from 'vitest'
import type { ApiRect, PartitionView } from '../../core/api/types.ts'
import { densityCells, sampleDots } from '../../web-dashboard/src/density.ts'
import { collapsed, easeInOutCubic, lerpRect, splitSegment } from '../../web-dashboard/src/tween.ts'

function partition(id: string, rect: ApiRect, entities: number, summary: { rect: ApiRect; weight: number }[]): PartitionView {
  return {
    id: `w:${id}`, worldId: 'w', partitionId: id, rect, owner: 'a', epoch: 1, pinned: false, mergeableWith: null,
    load: { tickCostMs: summary.reduce((s, c) => s + c.weight, 0), entities, clients: 0, bytesOutPerS: 0, summary },
  }
}

const left = { minX: 0, minY: 0, maxX: 50, maxY: 100 }
const right = { minX: 50, minY: 0, maxX: 100, maxY: 100 }
const hot = { minX: 0, minY: 0, maxX: 10, maxY: 10 }
const cold = { minX: 40, minY: 90, maxX: 50, maxY: 100 }

describe('dashboard density', () => {
  const parts = [
    partition('p1', left, 200, [{ rect: hot, weight: 3 }, { rect: cold, weight: 1 }]),
    partition('p2', right, 50, []),
  ]

  it('samples about one dot per entity, in proportion to the weights, inside the cells', () => {
    const dots = sampleDots(parts)
    const inHot = dots.filter((d) => d.x >= 0 && d.x <= 10 && d.y >= 0 && d.y <= 10).length
    const inCold = dots.filter((d) => d.x >= 40 && d.x <= 50 && d.y >= 90 && d.y <= 100).length
    const inRight = dots.filter((d) => d.x >= 50).length
    expect(inHot).toBe(150)
    expect(inCold).toBe(50)
    // No summary: spread over the whole partition.
    expect(inRight).toBe(50)
    expect(dots).toHaveLength(250)
  })

  it('is deterministic, so dots stay put between polls', () => {
    expect(sampleDots(parts)).toEqual(sampleDots(parts))
  })

  it('caps the number of dots', () => {
    const dots = sampleDots(parts, 25)
    expect(dots.length).toBeGreaterThan(15)
    expect(dots.length).toBeLessThan(35)
  })

  it('scales the heatmap to a high percentile of the densities', () => {
    const { cells, max } = densityCells(parts)
    expect(cells).toHaveLength(2)
    expect(max).toBeCloseTo(3 / 100)
  })
})

describe('dashboard border interpolation', () => {
  it('eases from the old rect to the new one', () => {
    const a = { minX: 0, minY: 0, maxX: 10, maxY: 10 }
    const b = { minX: 0, minY: 0, maxX: 20, maxY: 10 }
    expect(lerpRect(a, b, easeInOutCubic(0))).toEqual(a)
    expect(lerpRect(a, b, easeInOutCubic(1))).toEqual(b)
    expect(lerpRect(a, b, easeInOutCubic(0.5)).maxX).toBeCloseTo(15)
    expect(easeInOutCubic(0.25)).toBeLessThan(0.25)
  })

  it('draws a split line across the rect it cuts, and grows new ones from the midpoint', () => {
    const seg = splitSegment({ axis: 'x', at: 30, rect: { minX: 0, minY: 0, maxX: 100, maxY: 50 } })
    expect(seg).toEqual({ x1: 30, y1: 0, x2: 30, y2: 50 })
    expect(collapsed(seg)).toEqual({ x1: 30, y1: 25, x2: 30, y2: 25 })
  })
})
