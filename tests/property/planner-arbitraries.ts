/** Random worlds, trees, workers and load fields for the planner's property tests. */
import fc from 'fast-check'
import type { Rect } from '../../core/geometry.ts'
import { area, intersection, longerAxis, span } from '../../core/geometry.ts'
import type { PartitionMap, PartitionNode } from '../../core/partition-map.ts'
import { leaves } from '../../core/partition-map.ts'
import type { LoadRect, WorkerInfo } from '../../coordinator/planner/types.ts'
import { mulberry32 } from '../../scripts/sim/rng.ts'

export const MARGIN = 4
export const MIN_WIDTH = 2 * MARGIN

export interface Scenario {
  map: PartitionMap
  workers: WorkerInfo[]
  field: LoadRect[]
}

export interface ScenarioOptions {
  /** Allow dead, draining and unknown owners, null owners and pins. Default true. */
  messy?: boolean
  maxDepth?: number
}

/** A random k-d tree over `bounds` whose leaves are all at least MIN_WIDTH on both axes. */
export function randomTree(seed: number, bounds: Rect, maxDepth: number, owner: (i: number) => string | null, pinRate: number): PartitionMap {
  const rng = mulberry32(seed)
  let nextId = 0
  let leafNo = 0
  const build = (r: Rect, depth: number): PartitionNode => {
    const id = `p${nextId++}`
    const axis = rng.next() < 0.7 ? longerAxis(r) : longerAxis(r) === 'x' ? 'y' : 'x'
    const [lo, hi] = span(r, axis)
    const canSplit = hi - lo >= 2 * MIN_WIDTH && depth < maxDepth && (depth === 0 || rng.next() < 0.75)
    if (!canSplit) {
      const leaf: PartitionNode = { kind: 'leaf', id, owner: owner(leafNo++), epoch: rng.int(4) }
      if (rng.next() < pinRate) leaf.pinned = true
      return leaf
    }
    const at = Math.min(hi - MIN_WIDTH, Math.max(lo + MIN_WIDTH, lo + (hi - lo) * rng.range(0.2, 0.8)))
    const low: Rect = axis === 'x' ? { ...r, maxX: at } : { ...r, maxY: at }
    const high: Rect = axis === 'x' ? { ...r, minX: at } : { ...r, minY: at }
    const lowNode = build(low, depth + 1)
    return { kind: 'split', id, axis, at, low: lowNode, high: build(high, depth + 1) }
  }
  const root = build(bounds, 0)
  return { worldId: `world-${seed % 7}`, bounds, version: rng.int(5), nextId: nextId + rng.int(3), root }
}

/** `n` weighted rectangles inside `bounds`, each small enough to balance around. */
export function randomField(seed: number, bounds: Rect, n: number, totalLoad: number): LoadRect[] {
  const rng = mulberry32(seed ^ 0x9e3779b9)
  const out: LoadRect[] = []
  const w = bounds.maxX - bounds.minX
  const h = bounds.maxY - bounds.minY
  const weights = Array.from({ length: n }, () => rng.range(0.2, 1))
  const sum = weights.reduce((s, x) => s + x, 0)
  for (let i = 0; i < n; i++) {
    const rw = w * rng.range(0.02, 0.3)
    const rh = h * rng.range(0.02, 0.3)
    const x = bounds.minX + rng.range(0, w - rw)
    const y = bounds.minY + rng.range(0, h - rh)
    out.push({ minX: x, minY: y, maxX: x + rw, maxY: y + rh, weight: ((weights[i] as number) / sum) * totalLoad })
  }
  return out
}

export const scenarioArb = (options: ScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const messy = options.messy ?? true
  return fc
    .record({
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      minX: fc.integer({ min: -1000, max: 1000 }),
      minY: fc.integer({ min: -1000, max: 1000 }),
      w: fc.integer({ min: 100, max: 3000 }),
      h: fc.integer({ min: 100, max: 3000 }),
      workers: fc.array(
        fc.record({
          capacity: fc.integer({ min: 50, max: 200 }),
          live: messy ? fc.integer({ min: 0, max: 5 }).map((n) => n !== 0) : fc.constant(true),
          draining: messy ? fc.integer({ min: 0, max: 6 }).map((n) => n === 0) : fc.constant(false),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      fieldRects: fc.integer({ min: 1, max: 24 }),
      utilization: fc.double({ min: 0.05, max: 0.6, noNaN: true }),
      depth: fc.integer({ min: 0, max: options.maxDepth ?? 5 }),
    })
    .map(({ seed, minX, minY, w, h, workers: specs, fieldRects, utilization, depth }) => {
      const bounds = { minX, minY, maxX: minX + w, maxY: minY + h }
      const workers: WorkerInfo[] = specs.map((s, i) => ({ id: `w${i}`, labels: {}, ...s }))
      const rng = mulberry32(seed)
      const ids = workers.map((x) => x.id)
      const owner = (i: number): string | null => {
        if (!messy) return ids[i % ids.length] ?? null
        const r = rng.next()
        return r < 0.1 ? null : r < 0.15 ? 'gone' : (ids[rng.int(ids.length)] ?? null)
      }
      const map = randomTree(seed, bounds, depth, owner, messy ? 0.1 : 0)
      const capacity = workers.filter((x) => x.live && !x.draining).reduce((s, x) => s + x.capacity, 0)
      const field = randomField(seed, bounds, fieldRects, Math.max(1, capacity) * utilization)
      return { map, workers, field }
    })
}

/** Independent tiling check: areas add up, no two leaves overlap, sample points land in exactly one leaf. */
export function tilingErrors(map: PartitionMap, seed: number): string[] {
  const ls = leaves(map)
  const errors: string[] = []
  const total = ls.reduce((s, l) => s + area(l.rect), 0)
  const world = area(map.bounds)
  if (Math.abs(total - world) > 1e-6 * world) errors.push(`leaf areas ${total} != world ${world}`)
  if (ls.length <= 200) {
    for (let i = 0; i < ls.length; i++) {
      for (let j = i + 1; j < ls.length; j++) {
        if (intersection((ls[i] as (typeof ls)[number]).rect, (ls[j] as (typeof ls)[number]).rect)) errors.push(`leaves ${i} and ${j} overlap`)
      }
    }
  }
  const rng = mulberry32(seed)
  const b = map.bounds
  for (let k = 0; k < 50; k++) {
    const p = { x: rng.range(b.minX, b.maxX), y: rng.range(b.minY, b.maxY) }
    const n = ls.filter((l) => p.x >= l.rect.minX && p.x < l.rect.maxX && p.y >= l.rect.minY && p.y < l.rect.maxY).length
    if (n !== 1) errors.push(`point (${p.x}, ${p.y}) is in ${n} leaves`)
  }
  return errors
}
