/**
 * The coordinator's side of the operator API: read models for the dashboard and the CLI, and the
 * actions operators take. Actions are performed by the leader only and go through the same fenced
 * map writes as the planner's, so an operator's split and a planning round can never both win.
 */
import type {
  ActionResult,
  ClusterSummary,
  PartitionView,
  WorkerView,
  WorldDetail,
  WorldSummary,
} from '../core/api/types.ts'
import { globalPartitionId } from '../core/api/types.ts'
import { findNode, leaves, forEachLeaf } from '../core/partition-map.ts'
import type { PartitionMap, PartitionNode } from '../core/partition-map.ts'
import { splitRect } from '../core/geometry.ts'
import type { Rect } from '../core/geometry.ts'
import { decodeRecord, workerRecordSchema } from '../core/records.ts'
import type { WorldSpec } from '../core/records.ts'
import type { Leadership } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import type { OperatorBackend } from './api/backend.ts'
import { ApiError } from './api/backend.ts'
import type { EventLog } from './events.ts'
import type { LoadTable } from './load-table.ts'
import type { OperatorResult, PlannerConfig } from './planner/index.ts'
import { mergeLeaf, minWidth, splitLeaf } from './planner/index.ts'
import { leafLoads } from './planning-input.ts'
import type { Rebalancer } from './rebalancer.ts'
import type { ClusterView } from './view.ts'

export interface OperatorDeps {
  selfId: string
  store: ClusterStore
  keys: Keys
  view: ClusterView
  loads: LoadTable
  events: EventLog
  rebalancer: Rebalancer
  config: PlannerConfig
  leadership: () => Leadership | undefined
  leader: () => { id: string; apiUrl: string } | null
  /** Persists the pause flag so a new leader keeps it. */
  setPaused: (paused: boolean) => Promise<void>
}

export class Operator implements OperatorBackend {
  constructor(private readonly deps: OperatorDeps) {}

  get events() {
    return this.deps.events
  }

  cluster(): ClusterSummary {
    const { view, loads, rebalancer } = this.deps
    const owned = new Map<string, { partitions: number; rooms: number }>()
    const worlds: WorldSummary[] = []
    for (const spec of view.allWorlds()) {
      const map = view.map(spec.id)?.value
      for (const info of map ? leaves(map) : []) {
        const owner = info.leaf.owner
        if (!owner) continue
        const o = owned.get(owner) ?? { partitions: 0, rooms: 0 }
        o.partitions++
        if (spec.kind === 'room') o.rooms++
        owned.set(owner, o)
      }
      worlds.push(this.worldSummary(spec, map))
    }
    const workers: WorkerView[] = view.liveWorkers().map((w) => {
      const report = loads.get(w.id)?.report
      const load = report?.partitions.reduce((s, p) => s + p.tickCostMs, 0) ?? 0
      const view: WorkerView = {
        id: w.id, clientUrl: w.clientUrl, grpcAddress: w.grpcAddress, version: w.version, labels: w.labels,
        draining: w.draining, capacity: w.capacity, load, loadRatio: load / w.capacity,
        partitions: owned.get(w.id)?.partitions ?? 0, rooms: owned.get(w.id)?.rooms ?? 0,
        clients: report?.partitions.reduce((s, p) => s + p.clients, 0) ?? 0,
        entities: report?.partitions.reduce((s, p) => s + p.entities, 0) ?? 0,
        lastReportAgeMs: loads.ageMs(w.id),
      }
      if (w.region !== undefined) view.region = w.region
      return view
    }).sort((a, b) => (a.id < b.id ? -1 : 1))
    worlds.sort((a, b) => (a.id < b.id ? -1 : 1))
    const lead = this.deps.leadership()
    return {
      self: { id: this.deps.selfId, leading: lead !== undefined && !lead.isLost },
      leader: this.deps.leader(),
      paused: rebalancer.paused,
      workers,
      worlds,
      totals: {
        workers: workers.length,
        draining: workers.filter((w) => w.draining).length,
        worlds: worlds.filter((w) => w.kind === 'world').length,
        rooms: worlds.filter((w) => w.kind === 'room').length,
        partitions: worlds.reduce((s, w) => s + w.partitions, 0),
        entities: workers.reduce((s, w) => s + w.entities, 0),
        clients: workers.reduce((s, w) => s + w.clients, 0),
        load: workers.reduce((s, w) => s + w.load, 0),
        capacity: workers.reduce((s, w) => s + w.capacity, 0),
      },
      workersWanted: rebalancer.workersWanted,
    }
  }

  world(worldId: string): WorldDetail | undefined {
    const spec = this.deps.view.world(worldId)
    if (!spec) return undefined
    const map = this.deps.view.map(worldId)?.value
    const summary = this.worldSummary(spec, map)
    const detail: WorldDetail = { spec: { ...summary, labels: spec.labels }, partitions: [], splits: [] }
    if (spec.region !== undefined) detail.spec.region = spec.region
    if (!map) return detail
    const loads = leafLoads(map, this.deps.loads)
    const fresh = this.deps.loads
    forEachLeaf(map, ({ leaf, rect, parentId }) => {
      const load = loads[leaf.id]
      const sibling = parentId === undefined ? undefined : siblingOf(map, parentId, leaf.id)
      const reported = load && findReport(fresh, leaf.owner, worldId, leaf.id)
      const view: PartitionView = {
        id: globalPartitionId(worldId, leaf.id),
        worldId,
        partitionId: leaf.id,
        rect,
        owner: leaf.owner,
        epoch: leaf.epoch,
        pinned: leaf.pinned === true,
        mergeableWith: sibling?.kind === 'leaf' ? sibling.id : null,
        load: load
          ? {
              tickCostMs: load.tickCostMs,
              entities: load.entities,
              clients: load.clients,
              bytesOutPerS: reported?.bytesOutPerS ?? 0,
              summary: load.summary.map(({ weight, ...r }) => ({ rect: r, weight })),
            }
          : null,
      }
      detail.partitions.push(view)
    })
    collectSplits(map.root, map.bounds, detail.splits)
    return detail
  }

  async drainWorker(workerId: string): Promise<ActionResult> {
    this.requireLeader()
    const key = this.deps.keys.worker(workerId)
    const kv = await this.deps.store.get(key)
    if (!kv) throw new ApiError('not_found', `no live worker ${workerId}`)
    const record = decodeRecord(workerRecordSchema, key, kv.value)
    if (record.draining) return { ok: true, message: `${workerId} is already draining` }
    const next = JSON.stringify({ ...record, draining: true })
    const res = await this.deps.store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: kv.modRevision }],
      success: [{ type: 'put', key, value: next, ...(kv.lease !== undefined ? { lease: kv.lease } : {}) }],
    })
    if (!res.succeeded) throw new ApiError('conflict', `${workerId} changed meanwhile; try again`)
    this.deps.events.publish({ type: 'operator', workerId, message: `operator drains ${workerId}` })
    return { ok: true, message: `${workerId} is draining; its partitions move in the next rounds` }
  }

  splitPartition(worldId: string, partitionId: string): Promise<ActionResult> {
    return this.editMap(worldId, partitionId, 'split', (map) => splitLeaf(map, partitionId, { minWidth: minWidth(this.deps.config) }))
  }

  mergePartition(worldId: string, partitionId: string): Promise<ActionResult> {
    return this.editMap(worldId, partitionId, 'merge', (map) => mergeLeaf(map, partitionId))
  }

  pinPartition(worldId: string, partitionId: string): Promise<ActionResult> {
    return this.editMap(worldId, partitionId, 'pin', (map) => setPinned(map, partitionId, true))
  }

  unpinPartition(worldId: string, partitionId: string): Promise<ActionResult> {
    return this.editMap(worldId, partitionId, 'unpin', (map) => setPinned(map, partitionId, false))
  }

  async pauseRebalancing(): Promise<ActionResult> {
    this.requireLeader()
    await this.deps.setPaused(true)
    this.deps.events.publish({ type: 'operator', message: 'operator paused rebalancing' })
    return { ok: true, message: 'rebalancing paused (orphaned and draining partitions still move)' }
  }

  async resumeRebalancing(): Promise<ActionResult> {
    this.requireLeader()
    await this.deps.setPaused(false)
    this.deps.events.publish({ type: 'operator', message: 'operator resumed rebalancing' })
    return { ok: true, message: 'rebalancing resumed' }
  }

  private async editMap(
    worldId: string,
    partitionId: string,
    action: string,
    edit: (map: PartitionMap) => OperatorResult,
  ): Promise<ActionResult> {
    const lead = this.requireLeader()
    const cached = this.deps.view.map(worldId)
    if (!cached) throw new ApiError('not_found', `no world ${worldId}`)
    if (this.deps.view.world(worldId)?.kind === 'room' && (action === 'split' || action === 'merge')) {
      throw new ApiError('bad_request', `${worldId} is a room: rooms keep one partition`)
    }
    const result = edit(cached.value)
    if (!result.ok) {
      throw new ApiError(result.error === 'not-found' ? 'not_found' : 'conflict', result.message)
    }
    if (!(await this.deps.rebalancer.writeMap(lead, result.map, cached.modRevision))) {
      throw new ApiError('conflict', `the map of ${worldId} changed meanwhile; try again`)
    }
    this.deps.events.publish({
      type: 'operator',
      worldId,
      partitionId,
      message: `operator ${action} ${partitionId} of ${worldId}`,
      details: { action, version: result.map.version },
    })
    return { ok: true, message: `${action} ${worldId}:${partitionId} done (map version ${result.map.version})` }
  }

  private requireLeader(): Leadership {
    const lead = this.deps.leadership()
    if (!lead || lead.isLost) {
      const leader = this.deps.leader()
      throw new ApiError('not_leader', leader ? `not the leader; the leader is ${leader.id} at ${leader.apiUrl}` : 'no leader yet')
    }
    return lead
  }

  private worldSummary(spec: WorldSpec, map: PartitionMap | undefined): WorldSummary {
    const loads = map ? leafLoads(map, this.deps.loads) : {}
    const summary: WorldSummary = {
      id: spec.id,
      kind: spec.kind,
      bounds: spec.bounds,
      partitions: map ? leaves(map).length : 0,
      entities: Object.values(loads).reduce((s, l) => s + l.entities, 0),
      clients: Object.values(loads).reduce((s, l) => s + l.clients, 0),
      mapVersion: map?.version ?? 0,
      createdAt: spec.createdAt,
    }
    if (spec.mode !== undefined) summary.mode = spec.mode
    if (spec.maxPlayers !== undefined) summary.maxPlayers = spec.maxPlayers
    return summary
  }
}

function setPinned(map: PartitionMap, id: string, pinned: boolean): OperatorResult {
  const node = findNode(map, id)
  if (!node) return { ok: false, error: 'not-found', message: `no partition ${id} in ${map.worldId}` }
  if (node.kind !== 'leaf') return { ok: false, error: 'not-a-leaf', message: `${id} is not a partition (it is split)` }
  const replace = (n: PartitionNode): PartitionNode =>
    n.kind === 'leaf'
      ? n.id === id
        ? { ...n, pinned }
        : n
      : { ...n, low: replace(n.low), high: replace(n.high) }
  return { ok: true, map: { ...map, version: map.version + 1, root: replace(map.root) } }
}

function siblingOf(map: PartitionMap, parentId: string, leafId: string): PartitionNode | undefined {
  const parent = findNode(map, parentId)
  if (!parent || parent.kind !== 'split') return undefined
  return parent.low.id === leafId ? parent.high : parent.low
}

function collectSplits(node: PartitionNode, rect: Rect, out: WorldDetail['splits']): void {
  if (node.kind === 'leaf') return
  out.push({ id: node.id, axis: node.axis, at: node.at, rect })
  const [low, high] = splitRect(rect, node.axis, node.at)
  collectSplits(node.low, low, out)
  collectSplits(node.high, high, out)
}

function findReport(loads: LoadTable, owner: string | null, worldId: string, partitionId: string) {
  if (!owner) return undefined
  return loads.get(owner)?.report.partitions.find((p) => p.partition?.worldId === worldId && p.partition.partitionId === partitionId)
}
