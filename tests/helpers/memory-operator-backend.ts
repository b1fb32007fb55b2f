/**
 * A small but real `OperatorBackend` for the operator API's and the CLI's tests: it holds workers,
 * worlds with k-d partition trees, a bounded event ring with live subscribers, and performs the
 * actions on them (drain moves partitions, split/merge change the tree, epochs grow), so responses
 * change the way the coordinator's would. `leading = false` turns it into a standby.
 */
import type {
  ActionResult,
  ApiRect,
  ClusterEvent,
  ClusterSummary,
  PartitionView,
  WorkerView,
  WorldDetail,
  WorldSummary,
} from '../../core/api/types.ts'
import { globalPartitionId } from '../../core/api/types.ts'
import type { EventFeed, OperatorBackend } from '../../coordinator/api/backend.ts'
import { ApiError } from '../../coordinator/api/backend.ts'

type NewEvent = Omit<ClusterEvent, 'seq' | 'at'>

export class MemoryEventFeed implements EventFeed {
  private readonly held: ClusterEvent[] = []
  private readonly listeners = new Set<(event: ClusterEvent) => void>()
  private readonly countWaiters: { count: number; resolve: () => void }[] = []
  private seq = 0

  constructor(private readonly capacity = 100) {}

  /** Live subscriptions; the API must give each back when its client leaves. */
  get listenerCount(): number {
    return this.listeners.size
  }

  recent(afterSeq?: number): ClusterEvent[] {
    return this.held.filter((e) => afterSeq === undefined || e.seq > afterSeq)
  }

  /** Resolves once exactly `count` subscriptions are live (now or later). */
  whenListenerCount(count: number): Promise<void> {
    if (this.listeners.size === count) return Promise.resolve()
    return new Promise((resolve) => this.countWaiters.push({ count, resolve }))
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener)
    this.countChanged()
    return () => {
      this.listeners.delete(listener)
      this.countChanged()
    }
  }

  private countChanged(): void {
    for (const waiter of [...this.countWaiters]) {
      if (waiter.count !== this.listeners.size) continue
      this.countWaiters.splice(this.countWaiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }

  emit(event: NewEvent): ClusterEvent {
    const full: ClusterEvent = { seq: ++this.seq, at: Date.now(), ...event }
    this.held.push(full)
    if (this.held.length > this.capacity) this.held.shift()
    for (const listener of [...this.listeners]) listener(full)
    return full
  }
}

interface WorkerState {
  id: string
  capacity: number
  draining: boolean
  version: string
}

interface PartitionState {
  id: string
  rect: ApiRect
  owner: string | null
  epoch: number
  pinned: boolean
  /** ms/s of simulation. */
  load: number
  entities: number
  parent?: string
}

interface WorldState {
  id: string
  kind: 'world' | 'room'
  bounds: ApiRect
  createdAt: number
  mapVersion: number
  /** Leaves of the k-d tree. */
  partitions: Map<string, PartitionState>
  /** Inner nodes: split id → how it was split and its children. */
  splits: Map<string, { axis: 'x' | 'y'; at: number; rect: ApiRect; children: [string, string]; epoch: number }>
}

export class MemoryOperatorBackend implements OperatorBackend {
  readonly events = new MemoryEventFeed()
  /** false: behave as a standby (actions throw `not_leader`). */
  leading = true
  paused = false
  private readonly workers = new Map<string, WorkerState>()
  private readonly worlds = new Map<string, WorldState>()

  addWorker(id: string, capacity = 100): this {
    this.workers.set(id, { id, capacity, draining: false, version: '0.1.0' })
    this.events.emit({ type: 'membership', message: `worker ${id} joined`, workerId: id })
    return this
  }

  /** A world with one partition `p0` owned by `owner`, carrying `load` ms/s and `entities`. */
  addWorld(id: string, owner: string, load = 10, entities = 100, kind: 'world' | 'room' = 'world'): this {
    const bounds = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
    const root: PartitionState = { id: 'p0', rect: bounds, owner, epoch: 1, pinned: false, load, entities }
    this.worlds.set(id, { id, kind, bounds, createdAt: Date.now(), mapVersion: 1, partitions: new Map([['p0', root]]), splits: new Map() })
    this.events.emit({ type: 'map', message: `world ${id} created on ${owner}`, worldId: id, partitionId: 'p0', epoch: 1 })
    return this
  }

  cluster(): ClusterSummary {
    const workers = [...this.workers.values()].map((w) => this.workerView(w))
    const worlds = [...this.worlds.values()].map((w) => this.summary(w))
    const load = workers.reduce((sum, w) => sum + w.load, 0)
    const capacity = workers.reduce((sum, w) => sum + w.capacity, 0)
    return {
      self: { id: this.leading ? 'c1' : 'c2', leading: this.leading },
      leader: { id: 'c1', apiUrl: 'http://127.0.0.1:7070' },
      paused: this.paused,
      workers,
      worlds,
      totals: {
        workers: workers.length,
        draining: workers.filter((w) => w.draining).length,
        worlds: worlds.filter((w) => w.kind === 'world').length,
        rooms: worlds.filter((w) => w.kind === 'room').length,
        partitions: worlds.reduce((sum, w) => sum + w.partitions, 0),
        entities: worlds.reduce((sum, w) => sum + w.entities, 0),
        clients: 0,
        load,
        capacity,
      },
      // Keep a fifth of the capacity free.
      workersWanted: capacity === 0 ? 1 : Math.ceil((load * 1.25 - capacity) / 100),
    }
  }

  world(worldId: string): WorldDetail | undefined {
    const world = this.worlds.get(worldId)
    if (!world) return undefined
    const partitions: PartitionView[] = [...world.partitions.values()].map((p) => ({
      id: globalPartitionId(world.id, p.id),
      worldId: world.id,
      partitionId: p.id,
      rect: p.rect,
      owner: p.owner,
      epoch: p.epoch,
      pinned: p.pinned,
      mergeableWith: this.siblingLeaf(world, p)?.id ?? null,
      load: { tickCostMs: p.load, entities: p.entities, clients: 0, bytesOutPerS: 0, summary: [{ rect: p.rect, weight: p.entities }] },
    }))
    const splits = [...world.splits.entries()].map(([id, s]) => ({ id, axis: s.axis, at: s.at, rect: s.rect }))
    return { spec: { ...this.summary(world), labels: { game: 'test' } }, partitions, splits }
  }

  async drainWorker(workerId: string): Promise<ActionResult> {
    this.mustLead()
    const worker = this.workers.get(workerId)
    if (!worker) throw new ApiError('not_found', `no worker "${workerId}"`)
    if (worker.draining) return { ok: true, message: `worker ${workerId} is already draining` }
    const targets = [...this.workers.values()].filter((w) => !w.draining && w.id !== workerId)
    if (targets.length === 0) throw new ApiError('conflict', `no other worker can take the partitions of ${workerId}`)
    worker.draining = true
    let moved = 0
    for (const world of this.worlds.values()) {
      for (const p of world.partitions.values()) {
        if (p.owner !== workerId) continue
        const target = targets.reduce((best, w) => (this.workerLoad(w.id) < this.workerLoad(best.id) ? w : best))
        p.owner = target.id
        p.epoch++
        world.mapVersion++
        moved++
        this.events.emit({ type: 'map', message: `moved ${p.id} of ${world.id} from ${workerId} to ${target.id}`, worldId: world.id, partitionId: p.id, epoch: p.epoch })
      }
    }
    this.events.emit({ type: 'operator', message: `drain ${workerId}`, workerId })
    return { ok: true, message: `worker ${workerId} draining; ${moved} partitions moved` }
  }

  async splitPartition(worldId: string, partitionId: string): Promise<ActionResult> {
    this.mustLead()
    const { world, p } = this.partition(worldId, partitionId)
    if (p.pinned) throw new ApiError('conflict', `partition ${partitionId} of ${worldId} is pinned`)
    const axis: 'x' | 'y' = p.rect.maxX - p.rect.minX >= p.rect.maxY - p.rect.minY ? 'x' : 'y'
    const at = axis === 'x' ? (p.rect.minX + p.rect.maxX) / 2 : (p.rect.minY + p.rect.maxY) / 2
    const left = { ...p.rect, ...(axis === 'x' ? { maxX: at } : { maxY: at }) }
    const right = { ...p.rect, ...(axis === 'x' ? { minX: at } : { minY: at }) }
    const ids: [string, string] = [`${p.id}a`, `${p.id}b`]
    const epoch = p.epoch + 1
    world.partitions.delete(p.id)
    world.splits.set(p.id, { axis, at, rect: p.rect, children: ids, epoch: p.epoch })
    for (const [i, rect] of [left, right].entries()) {
      const id = ids[i] as string
      world.partitions.set(id, { id, rect, owner: p.owner, epoch, pinned: false, load: p.load / 2, entities: Math.floor(p.entities / 2), parent: p.id })
    }
    world.mapVersion++
    this.events.emit({ type: 'operator', message: `split ${partitionId} of ${worldId} at ${axis}=${at}`, worldId, partitionId, epoch })
    return { ok: true, message: `split ${partitionId} of ${worldId} into ${ids.join(' and ')}` }
  }

  async mergePartition(worldId: string, partitionId: string): Promise<ActionResult> {
    this.mustLead()
    const { world, p } = this.partition(worldId, partitionId)
    const sibling = this.siblingLeaf(world, p)
    if (!sibling || p.parent === undefined) throw new ApiError('conflict', `partition ${partitionId} of ${worldId} has no sibling leaf to merge with`)
    const split = world.splits.get(p.parent)
    if (!split) throw new ApiError('internal', 'tree without its split')
    if (p.pinned || sibling.pinned) throw new ApiError('conflict', `partition ${partitionId} or its sibling is pinned`)
    world.partitions.delete(p.id)
    world.partitions.delete(sibling.id)
    world.splits.delete(p.parent)
    const parent = this.parentOf(world, p.parent)
    const epoch = Math.max(p.epoch, sibling.epoch) + 1
    world.partitions.set(p.parent, {
      id: p.parent,
      rect: split.rect,
      owner: p.owner,
      epoch,
      pinned: false,
      load: p.load + sibling.load,
      entities: p.entities + sibling.entities,
      ...(parent === undefined ? {} : { parent }),
    })
    world.mapVersion++
    this.events.emit({ type: 'operator', message: `merged ${p.id} and ${sibling.id} of ${worldId} into ${p.parent}`, worldId, partitionId: p.parent, epoch })
    return { ok: true, message: `merged ${p.id} and ${sibling.id} into ${p.parent}` }
  }

  async pinPartition(worldId: string, partitionId: string): Promise<ActionResult> {
    return this.setPinned(worldId, partitionId, true)
  }

  async unpinPartition(worldId: string, partitionId: string): Promise<ActionResult> {
    return this.setPinned(worldId, partitionId, false)
  }

  async pauseRebalancing(): Promise<ActionResult> {
    this.mustLead()
    if (this.paused) return { ok: true, message: 'rebalancing was already paused' }
    this.paused = true
    this.events.emit({ type: 'operator', message: 'rebalancing paused' })
    return { ok: true, message: 'rebalancing paused' }
  }

  async resumeRebalancing(): Promise<ActionResult> {
    this.mustLead()
    if (!this.paused) return { ok: true, message: 'rebalancing was not paused' }
    this.paused = false
    this.events.emit({ type: 'operator', message: 'rebalancing resumed' })
    return { ok: true, message: 'rebalancing resumed' }
  }

  private setPinned(worldId: string, partitionId: string, pinned: boolean): ActionResult {
    this.mustLead()
    const { p } = this.partition(worldId, partitionId)
    p.pinned = pinned
    const verb = pinned ? 'pinned' : 'unpinned'
    this.events.emit({ type: 'operator', message: `${verb} ${partitionId} of ${worldId}`, worldId, partitionId, epoch: p.epoch })
    return { ok: true, message: `${verb} ${partitionId} of ${worldId}${p.owner ? ` on ${p.owner}` : ''}` }
  }

  private mustLead(): void {
    if (!this.leading) throw new ApiError('not_leader', 'this coordinator is a standby; the leader is c1 at http://127.0.0.1:7070')
  }

  private partition(worldId: string, partitionId: string): { world: WorldState; p: PartitionState } {
    const world = this.worlds.get(worldId)
    if (!world) throw new ApiError('not_found', `no world "${worldId}"`)
    const p = world.partitions.get(partitionId)
    if (!p) throw new ApiError('not_found', `no partition "${partitionId}" in world "${worldId}"`)
    return { world, p }
  }

  private siblingLeaf(world: WorldState, p: PartitionState): PartitionState | undefined {
    if (p.parent === undefined) return undefined
    const children = world.splits.get(p.parent)?.children
    const other = children?.find((c) => c !== p.id)
    return other === undefined ? undefined : world.partitions.get(other)
  }

  private parentOf(world: WorldState, id: string): string | undefined {
    for (const [splitId, s] of world.splits) if (s.children.includes(id)) return splitId
    return undefined
  }

  private workerLoad(workerId: string): number {
    let load = 0
    for (const world of this.worlds.values()) for (const p of world.partitions.values()) if (p.owner === workerId) load += p.load
    return load
  }

  private workerView(w: WorkerState): WorkerView {
    let partitions = 0
    let entities = 0
    let rooms = 0
    for (const world of this.worlds.values()) {
      for (const p of world.partitions.values()) {
        if (p.owner !== w.id) continue
        partitions++
        entities += p.entities
        if (world.kind === 'room') rooms++
      }
    }
    const load = this.workerLoad(w.id)
    return {
      id: w.id,
      clientUrl: `http://127.0.0.1:9${w.id.length}00`,
      grpcAddress: `127.0.0.1:7${w.id.length}01`,
      version: w.version,
      labels: { zone: 'a' },
      draining: w.draining,
      capacity: w.capacity,
      load,
      loadRatio: load / w.capacity,
      partitions,
      rooms,
      clients: 0,
      entities,
      lastReportAgeMs: partitions > 0 ? 250 : null,
    }
  }

  private summary(world: WorldState): WorldSummary {
    const leaves = [...world.partitions.values()]
    return {
      id: world.id,
      kind: world.kind,
      bounds: world.bounds,
      partitions: leaves.length,
      entities: leaves.reduce((sum, p) => sum + p.entities, 0),
      clients: 0,
      mapVersion: world.mapVersion,
      createdAt: world.createdAt,
    }
  }
}
