/**
 * Rooms through the gateway: create (the coordinator leader claims the id, places the room and
 * writes its record, open with the creator's seat, in one transaction), join by id (a seat
 * reservation swapped into the record), and browse (from the cache).
 */
import { randomBytes } from 'node:crypto'
import type { CreateRoomRequest, RoomGrant, RoomList, RoomSummary } from '../core/api/gateway.ts'
import type { Logger } from '../core/log.ts'
import { createRoomRecord, hasSpace, openedRoom, readRoom, reserveSeat, seatsTaken } from '../core/rooms.ts'
import type { RoomRecord, SeatRefusal, VersionedRoom } from '../core/rooms.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import { GatewayError } from './errors.ts'
import type { GrantSigner } from './grants.ts'
import type { Placement, PlacementClient } from './placement-client.ts'
import { enforcePolicy } from './player-policy.ts'
import type { SessionPolicy } from './player-policy.ts'
import type { GatewayView } from './view.ts'

/** A short URL-safe room id: 8 characters of base64url (48 random bits). */
export function randomRoomId(): string {
  return randomBytes(6).toString('base64url')
}

/** Attempts at a fresh id before giving up (a collision among 2^48 ids is already rare). */
const ID_ATTEMPTS = 5

export interface RoomServiceDeps {
  store: ClusterStore
  keys: Keys
  view: GatewayView
  placement: Pick<PlacementClient, 'place'>
  signer: GrantSigner
  logger: Logger
  policy: SessionPolicy
  seatReservationMs: number
  emptyRoomGraceMs: number
  newId?: () => string
  now?: () => number
}

export interface RoomListQuery {
  mode?: string
  /** `key:value` label filters, all of which must match. */
  labels?: string[]
  hasSpace?: boolean
  limit?: number
  cursor?: string
}

export class RoomService {
  constructor(private readonly deps: RoomServiceDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)()
  }

  /**
   * Create a room with seats reserved for `players` (the creator, or a match's members). The
   * leader claims the id, places the room and writes its record, open with those seats, in one
   * transaction: one store write (an fsync on etcd) on the create path. A taken id is retried with
   * a fresh one.
   */
  async create(players: string[], req: CreateRoomRequest, options: { enforce?: boolean } = {}): Promise<{ room: RoomRecord; modRevision: number }> {
    const { store, keys, placement } = this.deps
    const now = this.now()
    if (options.enforce !== false) for (const p of players) await enforcePolicy(this.deps, this.deps.policy, p, '', now)
    if (players.length > req.maxPlayers) throw new GatewayError('malformed', 'more players than maxPlayers')
    const newId = this.deps.newId ?? randomRoomId
    const reserveUntil = now + this.deps.seatReservationMs
    for (let i = 0; i < ID_ATTEMPTS; i++) {
      const record = this.placingRecord(newId(), req, now)
      const id = record.id
      let placed: Placement
      try {
        // Room labels describe the room (for browsing); only the region constrains where it runs.
        placed = await placement.place({
          roomId: id, mode: req.mode, maxPlayers: req.maxPlayers, labels: {}, ...(req.region ? { region: req.region } : {}),
          create: { recordJson: JSON.stringify(record), players, reserveUntil },
        })
      } catch (err) {
        placed = { placed: false, reason: (err as Error).message, workersWanted: 0, retryable: true }
      }
      if (!placed.placed) {
        if (placed.idTaken) continue
        const detail = placed.workersWanted > 0 ? `; ${placed.workersWanted} more worker(s) wanted` : ''
        throw new GatewayError(placed.workersWanted > 0 || !placed.retryable ? 'no_capacity' : 'busy', `room not placed: ${placed.reason}${detail}`, { workersWanted: placed.workersWanted })
      }
      const room = openedRoom(record, placed, players, reserveUntil)
      if (placed.roomRecordRevision > 0) return { room, modRevision: placed.roomRecordRevision }
      // A leader that left the record to the gateway (one older than `create_room_record`): write
      // it now, still only if the id is free.
      const json = JSON.stringify(room)
      this.deps.view.expectRoom(keys.room(id), json, room)
      const rev = await createRoomRecord(store, keys, room, json)
      if (rev !== undefined) return { room, modRevision: rev }
    }
    throw new GatewayError('busy', 'could not find a free room id; try again')
  }

  /** `POST /v1/rooms`: create, and hand the creator a ticket. */
  async createAndGrant(playerId: string, req: CreateRoomRequest): Promise<RoomGrant> {
    const { room } = await this.create([playerId], req)
    return this.grant(playerId, room)
  }

  /** `POST /v1/rooms/:id/join`. */
  async join(playerId: string, roomId: string): Promise<RoomGrant> {
    const { store, keys, view } = this.deps
    const now = this.now()
    // A room created a moment ago on another gateway may not have reached this cache yet.
    const cached: VersionedRoom | undefined = view.room(roomId) ?? (await readRoom(store, keys, roomId))
    if (!cached) throw refusal('unknown_room', roomId)
    await enforcePolicy(this.deps, this.deps.policy, playerId, roomId, now)
    const res = await reserveSeat(store, keys, roomId, playerId, now, this.deps.seatReservationMs, { initial: cached, beforeWrite: view.expectRoom })
    if (!res.ok) throw refusal(res.code, roomId)
    return this.grant(playerId, res.room)
  }

  async grant(playerId: string, room: RoomRecord): Promise<RoomGrant> {
    if (room.workerId === undefined || room.clientUrl === undefined) throw refusal('unknown_room', room.id)
    const g = await this.deps.signer.grant(playerId, {
      worldId: room.id, roomId: room.id, workerId: room.workerId, clientUrl: room.clientUrl,
      partitionId: room.partitionId ?? 'p0', epoch: room.epoch ?? 1,
    }, this.now())
    return { roomId: room.id, ...g }
  }

  /** `GET /v1/rooms`: rooms in id order, filtered, one page at a time. */
  list(q: RoomListQuery): RoomList {
    const now = this.now()
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 500)
    const labels = (q.labels ?? []).map((l) => {
      const at = l.indexOf(':')
      return at <= 0 ? [l, ''] : [l.slice(0, at), l.slice(at + 1)]
    })
    const rooms = [...this.deps.view.rooms.values()].map((e) => e.value)
      .filter((r) => q.cursor === undefined || r.id > q.cursor)
      .filter((r) => r.state !== 'placing')
      .filter((r) => q.mode === undefined || r.mode === q.mode)
      .filter((r) => labels.every(([k, v]) => k !== undefined && r.labels[k] === v))
      .filter((r) => q.hasSpace !== true || hasSpace(r, now))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const page = rooms.slice(0, limit).map((r) => summary(r, now))
    const last = page.at(-1)
    return rooms.length > limit && last ? { rooms: page, nextCursor: last.roomId } : { rooms: page }
  }

  /** The record of a room about to be placed under `id` (state `placing`; the leader opens it). */
  private placingRecord(id: string, req: CreateRoomRequest, now: number): RoomRecord {
    const record: RoomRecord = {
      id, mode: req.mode, maxPlayers: req.maxPlayers, labels: req.labels ?? {}, state: 'placing', createdAt: now, seats: {},
      emptyGraceMs: this.deps.emptyRoomGraceMs,
    }
    if (req.region) record.region = req.region
    return record
  }
}

function summary(r: RoomRecord, now: number): RoomSummary {
  const s: RoomSummary = { roomId: r.id, mode: r.mode, labels: r.labels, maxPlayers: r.maxPlayers, players: seatsTaken(r, now), state: r.state }
  if (r.region !== undefined) s.region = r.region
  if (r.workerId !== undefined) s.workerId = r.workerId
  return s
}

export function refusal(code: SeatRefusal, roomId: string): GatewayError {
  switch (code) {
    case 'room_full': return new GatewayError('room_full', `room ${roomId} is full`)
    case 'room_closed': return new GatewayError('room_closed', `room ${roomId} is closed`)
    case 'unknown_room': return new GatewayError('unknown_room', `no room ${roomId} (or it is still being placed)`)
    case 'busy': return new GatewayError('busy', `room ${roomId} is busy; try again`)
  }
}
