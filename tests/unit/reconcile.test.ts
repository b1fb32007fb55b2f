import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Rect } from '../../core/geometry.ts'
import { leaves, validateMap } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { splitLeaf } from '../../coordinator/planner/index.ts'
import { rebuildMap } from '../../coordinator/reconcile.ts'

const world: Rect = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }

/** A random k-d map built by operator splits, with owners and epochs. */
const arbMap = fc
  .array(fc.tuple(fc.nat(), fc.constantFrom<'x' | 'y'>('x', 'y'), fc.double({ min: 0.2, max: 0.8, noNaN: true }), fc.nat(3)), { maxLength: 12 })
  .map((steps) => {
    let map: PartitionMap = { worldId: 'w', bounds: world, version: 0, nextId: 1, root: { kind: 'leaf', id: 'p0', owner: 'a', epoch: 1 } }
    for (const [pick, axis, frac, owner] of steps) {
      const all = leaves(map)
      const target = all[pick % all.length]
      if (!target) continue
      const [lo, hi] = axis === 'x' ? [target.rect.minX, target.rect.maxX] : [target.rect.minY, target.rect.maxY]
      const res = splitLeaf(map, target.leaf.id, { axis, at: Math.round(lo + (hi - lo) * frac), minWidth: 1 })
      if (!res.ok) continue
      map = res.map
      // Give the new leaves distinct owners so ownership is worth preserving.
      for (const info of leaves(map)) if (info.leaf.owner === 'a') info.leaf.owner = `w${owner}`
    }
    return map
  })

const reportsOf = (map: PartitionMap) =>
  leaves(map).map(({ leaf, rect }) => ({ id: leaf.id, rect, owner: leaf.owner ?? 'none', epoch: leaf.epoch }))

describe('rebuilding a lost partition map from worker reports', () => {
  it('restores every leaf with its rectangle, owner and epoch', () => {
    fc.assert(
      fc.property(arbMap, (map) => {
        const rebuilt = rebuildMap('w', world, reportsOf(map))
        expect(rebuilt).toBeDefined()
        if (!rebuilt) return
        expect(validateMap(rebuilt)).toEqual([])
        const key = (m: PartitionMap) =>
          leaves(m).map(({ leaf, rect }) => `${leaf.id}|${leaf.owner}|${leaf.epoch}|${rect.minX},${rect.minY},${rect.maxX},${rect.maxY}`).sort()
        expect(key(rebuilt)).toEqual(key(map))
        // Fresh ids never collide with reported ones.
        expect(rebuilt.nextId).toBeGreaterThan(Math.max(...leaves(map).map((l) => Number(l.leaf.id.slice(1)))))
      }),
      { numRuns: 200 },
    )
  })

  it('fills regions nobody reports with unowned leaves', () => {
    fc.assert(
      fc.property(arbMap, fc.nat(), (map, drop) => {
        const reports = reportsOf(map)
        if (reports.length < 2) return
        const missing = reports.splice(drop % reports.length, 1)[0]
        const rebuilt = rebuildMap('w', world, reports)
        expect(rebuilt).toBeDefined()
        if (!rebuilt || !missing) return
        expect(validateMap(rebuilt)).toEqual([])
        const owned = leaves(rebuilt).filter((l) => l.leaf.owner !== null).map((l) => l.leaf.id).sort()
        expect(owned).toEqual(reports.map((r) => r.id).sort())
      }),
      { numRuns: 200 },
    )
  })

  it('keeps the higher epoch when two workers report the same leaf', () => {
    const rebuilt = rebuildMap('w', world, [
      { id: 'p0', rect: world, owner: 'old', epoch: 3 },
      { id: 'p0', rect: world, owner: 'new', epoch: 4 },
    ])
    expect(rebuilt?.root).toEqual({ kind: 'leaf', id: 'p0', owner: 'new', epoch: 4 })
  })

  it('refuses overlapping reports that no k-d tree can hold', () => {
    const rebuilt = rebuildMap('w', world, [
      { id: 'p1', rect: { minX: 0, minY: 0, maxX: 600, maxY: 600 }, owner: 'a', epoch: 1 },
      { id: 'p2', rect: { minX: 400, minY: 400, maxX: 1000, maxY: 1000 }, owner: 'b', epoch: 1 },
    ])
    expect(rebuilt).toBeUndefined()
  })
})
