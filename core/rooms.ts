/**
 * Room records (`rooms/{roomId}`) and their seats, shared by gateways (create, reserve), workers
 * (occupy, release) and the coordinator leader (sweeping empty rooms).
 *
 * A seat is either reserved (a gateway issued a ticket; the reservation lapses at `expiresAt`) or
 * occupied (the player is connected to the worker). A room counts both, so it never admits more
 * than `maxPlayers` players even while tickets are in flight. Every change is a compare-and-swap on
 * the record's modRevision, retried a bounded number of times, so concurrent gateways and workers
 * never overwrite each other's seats.
 *
 * The decisions are pure functions of (record, now); the store functions only read, decide and swap.
 */
import { z } from 'zod'
import { decodeRecord } from './records.ts'
import type { Keys } from './store/keys.ts'
import type { ClusterStore, KeyValue } from './store/types.ts'

/** Default lifetime of a seat reservation (a ticket not used by then frees its seat), ms. */
export const DEFAULT_SEAT_RESERVATION_MS = 15_000
/** Default time a room may stay empty before the coordinator leader removes it, ms. */
export const DEFAULT_EMPTY_ROOM_GRACE_MS = 30_000
/** A room still `placing` after this long was abandoned by its gateway, ms. */
export const PLACING_TIMEOUT_MS = 30_000
/** Default compare-and-swap attempts before a seat change gives up as `busy`. */
export const DEFAULT_CAS_ATTEMPTS = 16

const seatSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('reserved'), expiresAt: z.number() }),
  z.object({ kind: z.literal('occupied'), since: z.number() }),
])
export type Seat = z.infer<typeof seatSchema>

export const roomStateSchema = z.enum(['placing', 'open', 'closed'])
export type RoomState = z.infer<typeof roomStateSchema>

/** `rooms/{roomId}`. */
export const roomRecordSchema = z.object({
  id: z.string().min(1),
  mode: z.string(),
  maxPlayers: z.number().int().positive(),
  labels: z.record(z.string(), z.string()).default({}),
  region: z.string().optional(),
  state: roomStateSchema,
  workerId: z.string().optional(),
  /** URL players connect to (the worker's geckos.io signalling). */
  clientUrl: z.string().optional(),
  /** The room's one partition and its epoch, for tickets. */
  partitionId: z.string().optional(),
  epoch: z.number().int().optional(),
  createdAt: z.number(),
  seats: z.record(z.string(), seatSchema).default({}),
  /** When the last occupied seat was released (set by `releaseSeat`). */
  emptySince: z.number().optional(),
  /** How long the room may stay empty before it is removed; default 30 s (the gateway's policy). */
  emptyGraceMs: z.number().int().nonnegative().optional(),
})
export type RoomRecord = z.infer<typeof roomRecordSchema>

/** Why a seat change was refused. `busy`: too many concurrent writers, try again. */
export type SeatRefusal = 'room_full' | 'room_closed' | 'unknown_room' | 'busy'

export type SeatResult =
  | { ok: true; room: RoomRecord; modRevision: number; changed: boolean }
  | { ok: false; code: SeatRefusal }

/**
 * Parse and validate a room record. Gateways decode one per seat change, so well-formed records are
 * checked by hand (several times faster than the schema); anything else goes through the schema,
 * which applies defaults or throws a `RecordError` naming the problem.
 */
export function decodeRoom(key: string, json: string): RoomRecord {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    return decodeRecord(roomRecordSchema, key, json)
  }
  return isWellFormedRoom(raw) ? raw : decodeRecord(roomRecordSchema, key, json)
}

const optional = (v: unknown, type: 'string' | 'number') => v === undefined || typeof v === type
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function isWellFormedRoom(v: unknown): v is RoomRecord {
  if (!isRecord(v)) return false
  if (typeof v.id !== 'string' || v.id.length === 0 || typeof v.mode !== 'string' || typeof v.createdAt !== 'number') return false
  if (typeof v.maxPlayers !== 'number' || !Number.isInteger(v.maxPlayers) || v.maxPlayers < 1) return false
  if (v.state !== 'placing' && v.state !== 'open' && v.state !== 'closed') return false
  if (!optional(v.region, 'string') || !optional(v.workerId, 'string') || !optional(v.clientUrl, 'string') || !optional(v.partitionId, 'string')) return false
  if (!optional(v.epoch, 'number') || !optional(v.emptySince, 'number') || !optional(v.emptyGraceMs, 'number')) return false
  if (!isRecord(v.labels) || !isRecord(v.seats)) return false
  for (const label of Object.values(v.labels)) if (typeof label !== 'string') return false
  for (const seat of Object.values(v.seats)) {
    if (!isRecord(seat)) return false
    if (seat.kind === 'reserved' ? typeof seat.expiresAt !== 'number' : seat.kind !== 'occupied' || typeof seat.since !== 'number') return false
  }
  return true
}

// ---- pure decisions ----------------------------------------------------------------------------

function seatCounts(seat: Seat, now: number): boolean {
  return seat.kind === 'occupied' || seat.expiresAt > now
}

// The seat loops below use `for…in` rather than `Object.values`/`entries`: every join runs them
// over a record of up to `maxPlayers` seats, and the arrays those build were a good part of a join's
// garbage.

/** Seats taken now: occupied plus unexpired reservations. */
export function seatsTaken(room: RoomRecord, now: number): number {
  let n = 0
  for (const player in room.seats) {
    const seat = room.seats[player]
    if (seat !== undefined && seatCounts(seat, now)) n++
  }
  return n
}

/** Whether any reservation in the room has lapsed (so `withoutExpired` would change it). */
function hasLapsed(room: RoomRecord, now: number): boolean {
  for (const player in room.seats) {
    const seat = room.seats[player]
    if (seat !== undefined && !seatCounts(seat, now)) return true
  }
  return false
}

export function occupiedSeats(room: RoomRecord): number {
  let n = 0
  for (const seat of Object.values(room.seats)) if (seat.kind === 'occupied') n++
  return n
}

/** Whether one more player fits (an open room with fewer taken seats than `maxPlayers`). */
export function hasSpace(room: RoomRecord, now: number): boolean {
  return room.state === 'open' && seatsTaken(room, now) < room.maxPlayers
}

/** Whether `playerId` holds a live seat (occupied or an unexpired reservation) in the room. */
export function holdsSeat(room: RoomRecord, playerId: string, now: number): boolean {
  const seat = room.seats[playerId]
  return seat !== undefined && seatCounts(seat, now)
}

/**
 * Since when the room has been empty, or undefined while someone holds a seat. An open room whose
 * reservations all lapsed has been empty since the last of them expired (or since it opened).
 */
export function emptySinceOf(room: RoomRecord, now: number): number | undefined {
  let since = room.emptySince ?? room.createdAt
  for (const seat of Object.values(room.seats)) {
    if (seatCounts(seat, now)) return undefined
    if (seat.kind === 'reserved') since = Math.max(since, seat.expiresAt)
  }
  return since
}

/** Whether the coordinator leader should remove the room now. */
export function isSweepable(room: RoomRecord, now: number, defaultGraceMs = DEFAULT_EMPTY_ROOM_GRACE_MS): boolean {
  if (room.state === 'placing') return now - room.createdAt > PLACING_TIMEOUT_MS
  const since = emptySinceOf(room, now)
  return since !== undefined && now - since > (room.emptyGraceMs ?? defaultGraceMs)
}

/** The record without lapsed reservations (keeps records small; changes nothing else). */
export function withoutExpired(room: RoomRecord, now: number): RoomRecord {
  if (!hasLapsed(room, now)) return room
  const seats: Record<string, Seat> = {}
  for (const [player, seat] of Object.entries(room.seats)) if (seatCounts(seat, now)) seats[player] = seat
  return { ...room, seats }
}

/** A change decided from the current record: the next record, `unchanged`, or a refusal. */
export type SeatDecision = { next: RoomRecord } | 'unchanged' | SeatRefusal

/** Reserve a seat for `playerId` until `now + reservationMs` (refreshing a reservation it holds). */
export function decideReserve(room: RoomRecord, playerId: string, now: number, reservationMs: number): SeatDecision {
  if (room.state !== 'open') return room.state === 'closed' ? 'room_closed' : 'unknown_room'
  const current = room.seats[playerId]
  if (current?.kind === 'occupied') return 'unchanged'
  const base = withoutExpired(room, now)
  if (!holdsSeat(room, playerId, now) && seatsTaken(base, now) >= room.maxPlayers) return 'room_full'
  const next: RoomRecord = { ...base, seats: { ...base.seats, [playerId]: { kind: 'reserved', expiresAt: now + reservationMs } } }
  delete next.emptySince
  return { next }
}

/** Turn the player's reservation into an occupied seat; without one, take a seat only if there is space. */
export function decideOccupy(room: RoomRecord, playerId: string, now: number): SeatDecision {
  if (room.state === 'closed') return 'room_closed'
  if (room.state !== 'open') return 'unknown_room'
  const current = room.seats[playerId]
  if (current?.kind === 'occupied') return 'unchanged'
  const base = withoutExpired(room, now)
  // An expired reservation still admits the player if a seat is free: its ticket was valid.
  if (!holdsSeat(room, playerId, now) && seatsTaken(base, now) >= room.maxPlayers) return 'room_full'
  const next: RoomRecord = { ...base, seats: { ...base.seats, [playerId]: { kind: 'occupied', since: now } } }
  delete next.emptySince
  return { next }
}

/** Free the player's seat; the room records when it became empty. */
export function decideRelease(room: RoomRecord, playerId: string, now: number): SeatDecision {
  if (room.seats[playerId] === undefined) return 'unchanged'
  const base = withoutExpired(room, now)
  const seats = { ...base.seats }
  delete seats[playerId]
  const next: RoomRecord = { ...base, seats }
  if (seatsTaken(next, now) === 0) next.emptySince = now
  return { next }
}

/** Where a room was placed. */
export interface RoomPlacementTarget {
  workerId: string
  clientUrl: string
  partitionId: string
  epoch: number
}

/**
 * The record of a room once placed: open, on its worker, with a seat reserved for each of
 * `players` until `reserveUntil`. Written by whoever completes the creation (the coordinator leader
 * in its placement transaction, or the gateway).
 */
export function openedRoom(room: RoomRecord, target: RoomPlacementTarget, players: readonly string[], reserveUntil: number): RoomRecord {
  const seats = { ...room.seats }
  for (const p of players) seats[p] = { kind: 'reserved', expiresAt: reserveUntil }
  return { ...room, state: 'open', workerId: target.workerId, clientUrl: target.clientUrl, partitionId: target.partitionId, epoch: target.epoch, seats }
}

// ---- store operations --------------------------------------------------------------------------

/** A record with the modRevision it was read at (the compare-and-swap token). */
export interface VersionedRoom {
  room: RoomRecord
  modRevision: number
}

export async function readRoom(store: ClusterStore, keys: Keys, roomId: string): Promise<VersionedRoom | undefined> {
  const kv = await store.get(keys.room(roomId))
  return kv && versioned(kv)
}

function versioned(kv: KeyValue): VersionedRoom {
  return { room: decodeRoom(kv.key, kv.value), modRevision: kv.modRevision }
}

/** Create `rooms/{id}` only if absent. Returns the modRevision, or undefined if the id is taken. */
export async function createRoomRecord(store: ClusterStore, keys: Keys, room: RoomRecord, json = JSON.stringify(room)): Promise<number | undefined> {
  const key = keys.room(room.id)
  const res = await store.txn({
    compare: [{ key, target: 'createRevision', op: '==', value: 0 }],
    success: [{ type: 'put', key, value: json }],
  })
  return res.succeeded ? res.revision : undefined
}

export interface CasOptions {
  /** Attempts before answering `busy`. Default 16. */
  maxAttempts?: number
  /** A recent read (e.g. from a cache) to try first instead of reading the store. */
  initial?: VersionedRoom
  /** Told each record about to be written, with its JSON (a cache can then skip decoding it). */
  beforeWrite?: (key: string, json: string, room: RoomRecord) => void
}

/**
 * Apply `decide` to the current record with compare-and-swap, re-reading after each conflict (the
 * failed transaction returns the current value, so a retry costs one round trip).
 */
export async function updateRoom(
  store: ClusterStore,
  keys: Keys,
  roomId: string,
  decide: (room: RoomRecord) => SeatDecision,
  options: CasOptions = {},
): Promise<SeatResult> {
  const key = keys.room(roomId)
  let current = options.initial ?? (await readRoom(store, keys, roomId))
  const attempts = options.maxAttempts ?? DEFAULT_CAS_ATTEMPTS
  for (let i = 0; i < attempts; i++) {
    if (!current) return { ok: false, code: 'unknown_room' }
    const decision = decide(current.room)
    if (decision === 'unchanged') return { ok: true, room: current.room, modRevision: current.modRevision, changed: false }
    if (typeof decision === 'string') return { ok: false, code: decision }
    const json = JSON.stringify(decision.next)
    options.beforeWrite?.(key, json, decision.next)
    const res = await store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: current.modRevision }],
      success: [{ type: 'put', key, value: json }],
      failure: [{ type: 'get', key }],
    })
    if (res.succeeded) return { ok: true, room: decision.next, modRevision: res.revision, changed: true }
    const kv = res.reads[0]
    current = kv && versioned(kv)
    // Spread retries out a little so a crowd of writers does not collide in lockstep.
    if (i >= 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, 2 ** i)))
  }
  return { ok: false, code: 'busy' }
}

/** Gateway: reserve a seat (see `decideReserve`). */
export function reserveSeat(
  store: ClusterStore, keys: Keys, roomId: string, playerId: string, now: number, reservationMs = DEFAULT_SEAT_RESERVATION_MS, options: CasOptions = {},
): Promise<SeatResult> {
  return updateRoom(store, keys, roomId, (room) => decideReserve(room, playerId, now, reservationMs), options)
}

/**
 * Worker: call when a player's connection is accepted (after its ticket verified). Turns the
 * reservation into an occupied seat; a player without one is admitted only if the room has space.
 * Refusals: `room_full`, `room_closed`, `unknown_room` (also while still placing), `busy`.
 */
export function occupySeat(store: ClusterStore, keys: Keys, roomId: string, playerId: string, now: number, options: CasOptions = {}): Promise<SeatResult> {
  return updateRoom(store, keys, roomId, (room) => decideOccupy(room, playerId, now), options)
}

/**
 * Worker: call when a player leaves the room (disconnect, kick, moved elsewhere). When the room
 * becomes empty it records `emptySince`, starting the grace period after which the leader removes it.
 */
export function releaseSeat(store: ClusterStore, keys: Keys, roomId: string, playerId: string, now: number, options: CasOptions = {}): Promise<SeatResult> {
  return updateRoom(store, keys, roomId, (room) => decideRelease(room, playerId, now), options)
}
