/**
 * Entity density from the partitions' load summaries. The API reports where load lies inside each
 * partition (rects with weights) but no entity positions, so the map's dots are sampled from that
 * density: deterministically (a hash of partition, cell and index), so they stay put between polls
 * while the density stays put, and capped, so 1,000 partitions do not mean 100,000 dots.
 */
import type { ApiRect, PartitionView } from '../../core/api/types.ts'

export interface DensityCell {
  rect: ApiRect
  /** Load per unit of area. */
  density: number
}

export interface Dot {
  x: number
  y: number
}

function area(r: ApiRect): number {
  return Math.max(0, r.maxX - r.minX) * Math.max(0, r.maxY - r.minY)
}

/**
 * Every summary rect with its density, and the heatmap's scale: the 95th percentile density, so
 * one crowded cell does not leave the rest of the world dark (denser cells show at full heat).
 */
export function densityCells(partitions: readonly PartitionView[]): { cells: DensityCell[]; max: number } {
  const cells: DensityCell[] = []
  for (const p of partitions) {
    for (const s of p.load?.summary ?? []) {
      const a = area(s.rect)
      if (a <= 0 || s.weight <= 0) continue
      cells.push({ rect: s.rect, density: s.weight / a })
    }
  }
  const sorted = cells.map((c) => c.density).sort((a, b) => a - b)
  const max = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0
  return { cells, max }
}

/** FNV-1a of a string: a seed per partition. */
function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** mulberry32: small, fast and good enough to scatter dots. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * About one dot per entity (fewer when the world holds more than `maxDots`), spread over each
 * partition's summary cells in proportion to their weight. A partition without a summary spreads
 * its entities evenly.
 */
export function sampleDots(partitions: readonly PartitionView[], maxDots = 3000): Dot[] {
  const total = partitions.reduce((s, p) => s + (p.load?.entities ?? 0), 0)
  const scale = total > maxDots ? maxDots / total : 1
  const dots: Dot[] = []
  for (const p of partitions) {
    const entities = p.load?.entities ?? 0
    if (entities <= 0) continue
    const summary = p.load?.summary.filter((s) => s.weight > 0 && area(s.rect) > 0) ?? []
    const cells = summary.length > 0 ? summary : [{ rect: p.rect, weight: 1 }]
    const weight = cells.reduce((s, c) => s + c.weight, 0)
    const seed = hashString(p.id)
    cells.forEach((c, i) => {
      const rnd = random(seed + i * 7919)
      const expected = (entities * c.weight * scale) / weight
      // Stochastic rounding keeps the total right when cells expect fractions of a dot.
      const n = Math.floor(expected) + (rnd() < expected - Math.floor(expected) ? 1 : 0)
      for (let k = 0; k < n; k++) {
        dots.push({ x: c.rect.minX + rnd() * (c.rect.maxX - c.rect.minX), y: c.rect.minY + rnd() * (c.rect.maxY - c.rect.minY) })
      }
    })
  }
  return dots
}
