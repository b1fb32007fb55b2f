/**
 * Placing a room: the leader picks a worker with the planner's placement strategy, then creates the
 * room's world spec and its one-partition map (owned by that worker, epoch 1) in one fenced
 * transaction. The worker sees the map through its watch and starts simulating the room.
 *
 * A room's load is known only once its worker reports it, so placements made in the last few
 * seconds are counted at their estimated cost: a burst of creates spreads out instead of piling
 * onto the worker that looked idlest when the burst began.
 */
import type { Logger } from '../core/log.ts'
import { createMap, decodeMap, encodeMap } from '../core/partition-map.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import type { WorldSpec } from '../core/records.ts'
import { decodeRoom, openedRoom } from '../core/rooms.ts'
import type { Leadership } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore, Compare, TxnOp } from '../core/store/types.ts'
import type { EventLog } from './events.ts'
import type { LoadTable } from './load-table.ts'
import { placeRoom } from './planner/index.ts'
import { workerInfos, workerLoads } from './planning-input.ts'
import type { ClusterView } from './view.ts'

export interface RoomRequest {
  roomId: string
  mode?: string
  maxPlayers: number
  labels: Record<string, string>
  region?: string
  strategy?: 'distributed' | 'packed'
  bounds?: { minX: number; minY: number; maxX: number; maxY: number }
  /**
   * The gateway's `rooms/{roomId}` record (state `placing`) as written at `revision`: opened in the
   * placement transaction with seats reserved for `players` until `reserveUntil`.
   */
  open?: { recordJson: string; revision: number; players: string[]; reserveUntil: number }
  /**
   * The gateway's room record (state `placing`) that it has not written: created, opened as with
   * `open`, in the placement transaction, only if no room or world has the id yet. The id claim
   * and the placement then cost one store write (an fsync on etcd) instead of two.
   */
  create?: { recordJson: string; players: string[]; reserveUntil: number }
}

export type RoomPlacement =
  | { placed: true; workerId: string; clientUrl: string; partitionId: string; epoch: number; roomRecordRevision?: number }
  | { placed: false; reason: string; workersWanted: number; idTaken?: boolean }

export interface RoomPlacerOptions {
  /** Default strategy. Default `distributed`. */
  strategy: 'distributed' | 'packed'
  /** Estimated cost of a room before it reports: base + per player, ms/s. Defaults 2 and 0.5. */
  roomBaseCostMs: number
  roomPlayerCostMs: number
  /** How long a placement counts at its estimate. Default 10 s. */
  pendingMs: number
  defaultBounds: { minX: number; minY: number; maxX: number; maxY: number }
}

export class RoomPlacer {
  private readonly pending = new Map<string, { workerId: string; cost: number; at: number }>()

  constructor(
    private readonly deps: {
      store: ClusterStore
      keys: Keys
      view: ClusterView
      loads: LoadTable
      events: EventLog
      logger: Logger
      options: RoomPlacerOptions
      now?: () => number
    },
  ) {}

  async place(lead: Leadership, req: RoomRequest): Promise<RoomPlacement> {
    const { view, keys, store, options } = this.deps
    // A room created here must be new: an existing one under its id belongs to another creator.
    if (req.create && (view.map(req.roomId) || view.world(req.roomId))) return { placed: false, reason: `room id ${req.roomId} is taken`, workersWanted: 0, idTaken: true }
    const existing = req.create ? undefined : this.existingPlacement(req.roomId)
    if (existing) return existing

    const cost = options.roomBaseCostMs + options.roomPlayerCostMs * req.maxPlayers
    const loads = this.loadsWithPending()
    const placementRequest: { labels: Record<string, string>; region?: string; cost: number } = { labels: req.labels, cost }
    if (req.region) placementRequest.region = req.region
    const choice = placeRoom(workerInfos(view), loads, placementRequest, req.strategy ?? options.strategy)
    if (!choice.ok) return { placed: false, reason: choice.message, workersWanted: choice.workersWanted }

    const worker = view.worker(choice.workerId)
    if (!worker) return { placed: false, reason: 'chosen worker just left', workersWanted: 0 }
    const spec: WorldSpec = {
      id: req.roomId,
      kind: 'room',
      bounds: req.bounds ?? options.defaultBounds,
      maxPlayers: req.maxPlayers,
      labels: req.labels,
      createdAt: Date.now(),
    }
    if (req.mode) spec.mode = req.mode
    if (req.region) spec.region = req.region
    const map = createMap(req.roomId, spec.bounds, worker.id)
    map.root = { ...map.root, kind: 'leaf', id: 'p0', owner: worker.id, epoch: 1 }
    const compare: Compare[] = [
      { key: lead.key, target: 'createRevision', op: '==', value: lead.revision },
      { key: keys.world(req.roomId), target: 'createRevision', op: '==', value: 0 },
    ]
    const success: TxnOp[] = [
      { type: 'put', key: keys.world(req.roomId), value: JSON.stringify(spec) },
      { type: 'put', key: keys.worldMap(req.roomId), value: encodeMap(map) },
    ]
    // Opening (or creating) the gateway's room record here saves the gateway writes on the create path.
    const target = { workerId: worker.id, clientUrl: worker.clientUrl, partitionId: 'p0', epoch: 1 }
    const given = req.create ?? req.open
    const open = given && this.openRecord(req.roomId, given, target)
    if (req.create && !open) return { placed: false, reason: 'the room record does not decode', workersWanted: 0 }
    if (open) {
      const key = keys.room(req.roomId)
      compare.push(req.open && !req.create ? { key, target: 'modRevision', op: '==', value: req.open.revision } : { key, target: 'createRevision', op: '==', value: 0 })
      success.push({ type: 'put', key: keys.room(req.roomId), value: open })
    }
    const res = await store.txn({ compare, success, ...(req.create ? { failure: [{ type: 'get', key: keys.room(req.roomId) }, { type: 'get', key: keys.world(req.roomId) }] } : {}) })
    if (!res.succeeded && req.create) {
      if (res.reads.some((kv) => kv !== undefined)) return { placed: false, reason: `room id ${req.roomId} is taken`, workersWanted: 0, idTaken: true }
      return { placed: false, reason: 'leadership changed during placement', workersWanted: 0 }
    }
    if (!res.succeeded) {
      // Either leadership moved or the room was created concurrently: answer from the store.
      const again = await this.readPlacement(req.roomId)
      if (again) return again
      return { placed: false, reason: 'leadership changed during placement', workersWanted: 0 }
    }
    this.pending.set(req.roomId, { workerId: worker.id, cost, at: this.now() })
    this.deps.events.publish({
      type: 'decision',
      worldId: req.roomId,
      partitionId: 'p0',
      workerId: worker.id,
      epoch: 1,
      message: `placed room ${req.roomId} on ${worker.id} (${req.strategy ?? options.strategy})`,
      details: { kind: 'place', cost, maxPlayers: req.maxPlayers, labels: req.labels },
    })
    return { placed: true, workerId: worker.id, clientUrl: worker.clientUrl, partitionId: 'p0', epoch: 1, ...(open ? { roomRecordRevision: res.revision } : {}) }
  }

  /** The gateway's room record opened on `target`, or undefined if it does not decode (the gateway then opens it). */
  private openRecord(roomId: string, open: { recordJson: string; players: string[]; reserveUntil: number }, target: { workerId: string; clientUrl: string; partitionId: string; epoch: number }): string | undefined {
    try {
      const room = decodeRoom(this.deps.keys.room(roomId), open.recordJson)
      return room.state === 'placing' ? JSON.stringify(openedRoom(room, target, open.players, open.reserveUntil)) : undefined
    } catch (err) {
      this.deps.logger.warn({ err }, 'ignoring a room record that does not decode')
      return undefined
    }
  }

  /** Reported worker loads plus rooms placed but not reported yet. */
  loadsWithPending(): Record<string, number> {
    const loads = workerLoads(this.deps.loads)
    const now = this.now()
    for (const [roomId, p] of this.pending) {
      if (now - p.at > this.deps.options.pendingMs || this.reported(roomId)) this.pending.delete(roomId)
      else loads[p.workerId] = (loads[p.workerId] ?? 0) + p.cost
    }
    return loads
  }

  private reported(roomId: string): boolean {
    return this.deps.loads.fresh().some((r) => r.report.partitions.some((p) => p.partition?.worldId === roomId))
  }

  private existingPlacement(roomId: string): RoomPlacement | undefined {
    const map = this.deps.view.map(roomId)?.value
    return map && this.placementOf(map)
  }

  private async readPlacement(roomId: string): Promise<RoomPlacement | undefined> {
    const kv = await this.deps.store.get(this.deps.keys.worldMap(roomId))
    return kv && this.placementOf(decodeMap(kv.value))
  }

  private placementOf(map: PartitionMap): RoomPlacement | undefined {
    if (map.root.kind !== 'leaf' || !map.root.owner) return undefined
    const worker = this.deps.view.worker(map.root.owner)
    if (!worker) return undefined
    return { placed: true, workerId: worker.id, clientUrl: worker.clientUrl, partitionId: map.root.id, epoch: map.root.epoch }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)()
  }
}
