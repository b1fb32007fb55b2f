/**
 * A synthetic cluster for the dashboard's load test: a world cut into `leaves` partitions by a k-d
 * tree, owned by `workers` workers, with load summaries around a few hotspots, plus some rooms. Two
 * versions of the same tree (`shift` moves every split line a little) drive the border animation.
 */
import type { ApiRect, ClusterSummary, PartitionView, WorkerView, WorldDetail, WorldSummary } from '../../../core/api/types.ts'

interface Leaf {
  kind: 'leaf'
  id: string
}
interface Split {
  kind: 'split'
  id: string
  axis: 'x' | 'y'
  /** Where the cut lies, as a fraction of the node's extent. */
  frac: number
  low: Node
  high: Node
}
type Node = Leaf | Split

/** A seeded random sequence (mulberry32), so every run draws the same world. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hotspots = [
  { x: 0.25, y: 0.3, r: 0.12, w: 1 },
  { x: 0.7, y: 0.65, r: 0.18, w: 0.7 },
  { x: 0.55, y: 0.2, r: 0.08, w: 0.9 },
  { x: 0.2, y: 0.8, r: 0.1, w: 0.5 },
]

/** Entity density at a point of the unit square. */
function field(x: number, y: number): number {
  let d = 0.05
  for (const h of hotspots) d += h.w * Math.exp(-((x - h.x) ** 2 + (y - h.y) ** 2) / (2 * h.r * h.r))
  return d
}

export class SyntheticWorld {
  private readonly root: Node
  readonly bounds: ApiRect

  constructor(readonly worldId: string, leaves: number, readonly workers: number, size = 10_000) {
    this.bounds = { minX: 0, minY: 0, maxX: size, maxY: size }
    const rnd = seeded(7)
    let next = 1
    // Split the widest leaf until there are enough: a balanced-looking tree, as the planner makes.
    const open: { node: Leaf; rect: ApiRect; parent: Split | undefined; side: 'low' | 'high' }[] = []
    const rootLeaf: Leaf = { kind: 'leaf', id: 'p0' }
    let root: Node = rootLeaf
    open.push({ node: rootLeaf, rect: this.bounds, parent: undefined, side: 'low' })
    while (open.length < leaves) {
      open.sort((a, b) => area(b.rect) - area(a.rect))
      const cell = open.shift()
      if (!cell) break
      const wide = cell.rect.maxX - cell.rect.minX >= cell.rect.maxY - cell.rect.minY
      const split: Split = {
        kind: 'split', id: cell.node.id, axis: wide ? 'x' : 'y', frac: 0.35 + rnd() * 0.3,
        low: { kind: 'leaf', id: `p${next++}` }, high: { kind: 'leaf', id: `p${next++}` },
      }
      if (cell.parent) cell.parent[cell.side] = split
      else root = split
      const [lo, hi] = cut(cell.rect, split.axis, split.frac)
      open.push({ node: split.low as Leaf, rect: lo, parent: split, side: 'low' })
      open.push({ node: split.high as Leaf, rect: hi, parent: split, side: 'high' })
    }
    this.root = root
  }

  /** The world's detail at `version`; each version moves every split line by `shift` of its extent. */
  detail(version: number, shift = 0.04): WorldDetail {
    const partitions: PartitionView[] = []
    const splits: WorldDetail['splits'] = []
    const size = this.bounds.maxX - this.bounds.minX
    let index = 0
    const total = this.countLeaves(this.root)
    const walk = (node: Node, rect: ApiRect): void => {
      if (node.kind === 'split') {
        const wobble = version % 2 === 0 ? shift : 0
        const frac = Math.min(0.8, Math.max(0.2, node.frac + wobble))
        const [lo, hi] = cut(rect, node.axis, frac)
        splits.push({ id: node.id, axis: node.axis, at: node.axis === 'x' ? lo.maxX : lo.maxY, rect })
        walk(node.low, lo)
        walk(node.high, hi)
        return
      }
      // Neighbouring leaves share an owner, as the planner's placement tends to do.
      const owner = `w${String(1 + Math.floor((index++ * this.workers) / total)).padStart(2, '0')}`
      const summary: { rect: ApiRect; weight: number }[] = []
      let weight = 0
      const n = 4
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const r = {
            minX: rect.minX + ((rect.maxX - rect.minX) * i) / n, maxX: rect.minX + ((rect.maxX - rect.minX) * (i + 1)) / n,
            minY: rect.minY + ((rect.maxY - rect.minY) * j) / n, maxY: rect.minY + ((rect.maxY - rect.minY) * (j + 1)) / n,
          }
          const w = (field((r.minX + r.maxX) / 2 / size, (r.minY + r.maxY) / 2 / size) * area(r)) / 20_000
          summary.push({ rect: r, weight: w })
          weight += w
        }
      }
      partitions.push({
        id: `${this.worldId}:${node.id}`, worldId: this.worldId, partitionId: node.id, rect, owner, epoch: version,
        pinned: false, mergeableWith: null,
        load: { tickCostMs: weight, entities: Math.round(weight * 4), clients: Math.round(weight / 3), bytesOutPerS: 0, summary },
      })
    }
    walk(this.root, this.bounds)
    return {
      spec: { ...this.summary(version, partitions), labels: {} },
      partitions,
      splits,
    }
  }

  cluster(version: number, rooms: WorldSummary[]): ClusterSummary {
    const d = this.detail(version)
    const workers: WorkerView[] = Array.from({ length: this.workers }, (_, i) => {
      const id = `w${String(i + 1).padStart(2, '0')}`
      const mine = d.partitions.filter((p) => p.owner === id)
      const load = mine.reduce((s, p) => s + (p.load?.tickCostMs ?? 0), 0)
      return {
        id, clientUrl: 'http://127.0.0.1:1', grpcAddress: '127.0.0.1:2', version: '0.1.0', labels: {}, draining: i === this.workers - 1,
        capacity: 800, load, loadRatio: load / 800, partitions: mine.length, rooms: rooms.filter((_, k) => k % this.workers === i).length,
        clients: 0, entities: mine.reduce((s, p) => s + (p.load?.entities ?? 0), 0), lastReportAgeMs: 300,
      }
    })
    const worlds = [d.spec, ...rooms]
    return {
      self: { id: 'synthetic', leading: true },
      leader: { id: 'synthetic', apiUrl: 'http://127.0.0.1:1' },
      paused: false,
      workers,
      worlds,
      totals: {
        workers: workers.length, draining: 1, worlds: 1, rooms: rooms.length, partitions: d.partitions.length + rooms.length,
        entities: d.spec.entities, clients: 0, load: workers.reduce((s, w) => s + w.load, 0), capacity: 800 * workers.length,
      },
      workersWanted: 3,
    }
  }

  private summary(version: number, partitions: PartitionView[]): WorldSummary {
    return {
      id: this.worldId, kind: 'world', bounds: this.bounds, partitions: partitions.length,
      entities: partitions.reduce((s, p) => s + (p.load?.entities ?? 0), 0), clients: 0, mapVersion: version, createdAt: Date.now() - 3_600_000,
    }
  }

  private countLeaves(n: Node): number {
    return n.kind === 'leaf' ? 1 : this.countLeaves(n.low) + this.countLeaves(n.high)
  }
}

/** Rooms for the rooms list: `count` rooms spread over the workers, a few full, one unplaced. */
export function syntheticRooms(count: number, workers: number): { summaries: WorldSummary[]; details: Map<string, WorldDetail> } {
  const summaries: WorldSummary[] = []
  const details = new Map<string, WorldDetail>()
  for (let i = 0; i < count; i++) {
    const id = `room-${String(i).padStart(3, '0')}`
    const bounds = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
    const summary: WorldSummary = {
      id, kind: 'room', bounds, mode: i % 2 === 0 ? 'duel' : 'arena', maxPlayers: 4, partitions: 1, entities: 10,
      clients: i % 5, mapVersion: 1, createdAt: Date.now() - i * 60_000,
    }
    summaries.push(summary)
    const owner = i === count - 1 ? null : `w${String(1 + (i % workers)).padStart(2, '0')}`
    details.set(id, {
      spec: { ...summary, labels: {} },
      partitions: [{ id: `${id}:p0`, worldId: id, partitionId: 'p0', rect: bounds, owner, epoch: 1, pinned: false, mergeableWith: null, load: null }],
      splits: [],
    })
  }
  return { summaries, details }
}

function area(r: ApiRect): number {
  return (r.maxX - r.minX) * (r.maxY - r.minY)
}

function cut(r: ApiRect, axis: 'x' | 'y', frac: number): [ApiRect, ApiRect] {
  if (axis === 'x') {
    const at = r.minX + (r.maxX - r.minX) * frac
    return [{ ...r, maxX: at }, { ...r, minX: at }]
  }
  const at = r.minY + (r.maxY - r.minY) * frac
  return [{ ...r, maxY: at }, { ...r, minY: at }]
}
