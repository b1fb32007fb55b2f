/** Operator split and merge on partition maps. */
import { describe, expect, it } from 'vitest'
import { createMap, leaves, validateMap } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { mergeLeaf, splitLeaf } from '../../coordinator/planner/operator.ts'

const base = (): PartitionMap => ({ ...createMap('w', { minX: 0, minY: 0, maxX: 100, maxY: 40 }, 'a'), version: 3 })

function ok(r: ReturnType<typeof splitLeaf>): PartitionMap {
  if (!r.ok) throw new Error(r.message)
  return r.map
}

describe('splitLeaf', () => {
  it('cuts the longer axis in the middle; children get fresh ids, the owner and epoch + 1', () => {
    const m = base()
    const after = ok(splitLeaf(m, 'p0'))
    expect(validateMap(after)).toEqual([])
    expect(after.version).toBe(4)
    expect(after.nextId).toBe(3)
    expect(after.root).toMatchObject({ kind: 'split', id: 'p0', axis: 'x', at: 50 })
    expect(leaves(after).map((l) => [l.leaf.id, l.leaf.owner, l.leaf.epoch])).toEqual([['p1', 'a', 1], ['p2', 'a', 1]])
    // The input is untouched.
    expect(m.root.kind).toBe('leaf')
  })

  it('takes an axis and a coordinate, and refuses bad ones', () => {
    const after = ok(splitLeaf(base(), 'p0', { axis: 'y', at: 10 }))
    expect(after.root).toMatchObject({ axis: 'y', at: 10 })
    expect(splitLeaf(base(), 'p0', { at: 100 })).toMatchObject({ ok: false, error: 'bad-coordinate' })
    expect(splitLeaf(base(), 'p0', { at: 5, minWidth: 8 })).toMatchObject({ ok: false, error: 'bad-coordinate' })
    expect(splitLeaf(base(), 'p0', { axis: 'y', minWidth: 25 })).toMatchObject({ ok: false, error: 'too-narrow' })
  })

  it('refuses unknown ids, inner nodes and pinned leaves', () => {
    const m = ok(splitLeaf(base(), 'p0'))
    expect(splitLeaf(m, 'nope')).toMatchObject({ ok: false, error: 'not-found' })
    expect(splitLeaf(m, 'p0')).toMatchObject({ ok: false, error: 'not-a-leaf' })
    const pinned: PartitionMap = { ...base(), root: { kind: 'leaf', id: 'p0', owner: 'a', epoch: 0, pinned: true } }
    expect(splitLeaf(pinned, 'p0')).toMatchObject({ ok: false, error: 'pinned' })
  })
})

describe('mergeLeaf', () => {
  it('merges a leaf with its leaf sibling under the parent id, keeping the named leaf owner, epoch above both', () => {
    const split = ok(splitLeaf(base(), 'p0'))
    const lowOwnedByB: PartitionMap = {
      ...split,
      root: { ...(split.root as Extract<PartitionMap['root'], { kind: 'split' }>), high: { kind: 'leaf', id: 'p2', owner: 'b', epoch: 7 } },
    }
    const merged = ok(mergeLeaf(lowOwnedByB, 'p2'))
    expect(merged.root).toEqual({ kind: 'leaf', id: 'p0', owner: 'b', epoch: 8 })
    expect(merged.version).toBe(split.version + 1)
    expect(validateMap(merged)).toEqual([])
  })

  it('refuses the root, a sibling that is split further, and pinned leaves', () => {
    expect(mergeLeaf(base(), 'p0')).toMatchObject({ ok: false, error: 'root' })
    const two = ok(splitLeaf(ok(splitLeaf(base(), 'p0')), 'p2'))
    expect(mergeLeaf(two, 'p1')).toMatchObject({ ok: false, error: 'sibling-not-leaf' })
    expect(mergeLeaf(two, 'p3')).toMatchObject({ ok: true })
    const pinned = ok(splitLeaf(base(), 'p0'))
    const root = pinned.root as Extract<PartitionMap['root'], { kind: 'split' }>
    expect(mergeLeaf({ ...pinned, root: { ...root, low: { ...(root.low as Extract<PartitionMap['root'], { kind: 'leaf' }>), pinned: true } } }, 'p2'))
      .toMatchObject({ ok: false, error: 'pinned' })
  })

  it('split then merge gives the original region back under its id with a higher epoch', () => {
    const m = ok(mergeLeaf(ok(splitLeaf(base(), 'p0')), 'p1'))
    expect(m.root).toMatchObject({ kind: 'leaf', id: 'p0', owner: 'a', epoch: 2 })
  })
})
