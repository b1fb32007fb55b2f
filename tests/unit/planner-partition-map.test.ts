/** The partition map shared by coordinator, workers and gateways, and the geometry under it. */
import { describe, expect, it } from 'vitest'
import { area, containsPoint, intersectionArea, intersects, longerAxis, splitRect } from '../../core/geometry.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { PartitionMapError, createMap, decodeMap, encodeMap, leafAt, leaves, neighbours, validateMap } from '../../core/partition-map.ts'

// 0..100 × 0..100: x < 50 is p1; the right half is cut at y = 30 into p3 (below) and p4.
const map: PartitionMap = {
  worldId: 'w', bounds: { minX: 0, minY: 0, maxX: 100, maxY: 100 }, version: 2, nextId: 5,
  root: {
    kind: 'split', id: 'p0', axis: 'x', at: 50,
    low: { kind: 'leaf', id: 'p1', owner: 'a', epoch: 1 },
    high: {
      kind: 'split', id: 'p2', axis: 'y', at: 30,
      low: { kind: 'leaf', id: 'p3', owner: 'b', epoch: 0 },
      high: { kind: 'leaf', id: 'p4', owner: null, epoch: 4, pinned: true },
    },
  },
}

describe('geometry', () => {
  it('measures, splits and intersects rectangles', () => {
    const r = { minX: 0, minY: 0, maxX: 10, maxY: 4 }
    expect(area(r)).toBe(40)
    expect(longerAxis(r)).toBe('x')
    expect(splitRect(r, 'x', 3)).toEqual([{ minX: 0, minY: 0, maxX: 3, maxY: 4 }, { minX: 3, minY: 0, maxX: 10, maxY: 4 }])
    expect(intersects(r, { minX: 10, minY: 0, maxX: 20, maxY: 4 })).toBe(false)
    expect(intersectionArea(r, { minX: 5, minY: 2, maxX: 20, maxY: 20 })).toBe(10)
    expect(containsPoint(r, { x: 10, y: 1 })).toBe(false)
    expect(containsPoint(r, { x: 10, y: 1 }, true)).toBe(true)
  })
})

describe('partition map', () => {
  it('derives leaf rectangles from the split lines', () => {
    expect(leaves(map).map((l) => [l.leaf.id, l.rect, l.parentId, l.depth])).toEqual([
      ['p1', { minX: 0, minY: 0, maxX: 50, maxY: 100 }, 'p0', 1],
      ['p3', { minX: 50, minY: 0, maxX: 100, maxY: 30 }, 'p2', 2],
      ['p4', { minX: 50, minY: 30, maxX: 100, maxY: 100 }, 'p2', 2],
    ])
  })

  it('finds the leaf at a point; a point on a line belongs to the high side; the far edge is inside', () => {
    expect(leafAt(map, { x: 10, y: 10 })?.id).toBe('p1')
    expect(leafAt(map, { x: 50, y: 10 })?.id).toBe('p3')
    expect(leafAt(map, { x: 60, y: 30 })?.id).toBe('p4')
    expect(leafAt(map, { x: 100, y: 100 })?.id).toBe('p4')
    expect(leafAt(map, { x: 101, y: 0 })).toBeUndefined()
  })

  it('lists neighbours with the border segment they share', () => {
    expect(neighbours(map, 'p1')).toEqual([
      { id: 'p3', owner: 'b', border: { axis: 'x', at: 50, from: 0, to: 30 } },
      { id: 'p4', owner: null, border: { axis: 'x', at: 50, from: 30, to: 100 } },
    ])
    expect(neighbours(map, 'p3').map((n) => n.id)).toEqual(['p1', 'p4'])
    expect(neighbours(map, 'p2')).toEqual([])
  })

  it('validates: split lines inside their node, unique ids, ids below nextId, whole epochs', () => {
    expect(validateMap(map)).toEqual([])
    expect(validateMap(createMap('r', { minX: 0, minY: 0, maxX: 1, maxY: 1 }, 'a'))).toEqual([])
    const outside = structuredClone(map)
    if (outside.root.kind === 'split' && outside.root.high.kind === 'split') outside.root.high.at = 120
    expect(validateMap(outside).join()).toMatch(/outside/)
    const dup = structuredClone(map)
    if (dup.root.kind === 'split') dup.root.low = { kind: 'leaf', id: 'p3', owner: 'a', epoch: 0 }
    expect(validateMap(dup).join()).toMatch(/duplicate id p3/)
    expect(validateMap({ ...map, nextId: 3 }).join()).toMatch(/nextId/)
    expect(validateMap({ ...map, bounds: { minX: 0, minY: 0, maxX: 0, maxY: 5 } }).join()).toMatch(/no area/)
  })

  it('round-trips through JSON and refuses bad JSON, bad shapes and bad geometry', () => {
    expect(decodeMap(encodeMap(map))).toEqual(map)
    expect(() => decodeMap('{')).toThrow(PartitionMapError)
    expect(() => decodeMap(JSON.stringify({ ...map, version: -1 }))).toThrow(/wrong shape/)
    const bad = structuredClone(map)
    if (bad.root.kind === 'split') bad.root.at = 0
    try {
      decodeMap(JSON.stringify(bad))
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(PartitionMapError)
      expect((err as PartitionMapError).problems.join()).toMatch(/outside/)
      expect((err as PartitionMapError).code).toBe('PARTITION_MAP_INVALID')
    }
  })
})
