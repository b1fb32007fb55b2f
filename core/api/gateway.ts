/**
 * The gateway's HTTP API as its clients see it (the client library's `join`, tools, tests): request
 * and response shapes, and the HTTP status of every error code. Plain JSON shapes only. Routes live
 * under `/v1`; every error is `{ error: { code, message } }` with a code from `Protocol.errorCode`.
 */
import type { ErrorCodeName } from '../wire/protocol.ts'

/** HTTP status of each error code the gateway answers with. */
export const gatewayErrorStatus = {
  malformed: 400,
  unauthorized: 401,
  unknown_room: 404,
  unknown_world: 404,
  unknown_ticket: 404,
  not_found: 404,
  room_full: 409,
  already_playing: 409,
  room_closed: 410,
  too_large: 413,
  rate_limited: 429,
  internal: 500,
  no_capacity: 503,
  busy: 503,
  partition_unassigned: 503,
  shutting_down: 503,
} as const satisfies Partial<Record<ErrorCodeName, number>>

export type GatewayErrorCode = keyof typeof gatewayErrorStatus

export interface ErrorBody {
  error: { code: GatewayErrorCode; message: string; workersWanted?: number }
}

/** What every successful join answers: where to connect and the signed ticket to present. */
export interface JoinGrant {
  /** Worker URL (geckos.io signalling) to connect to. */
  workerUrl: string
  /** Ed25519-signed join ticket (JWT). */
  ticket: string
  /** When the ticket stops being accepted, ms since the epoch. */
  expiresAt: number
  workerId: string
  worldId: string
  partitionId: string
  epoch: number
}

/** `POST /v1/rooms`. */
export interface CreateRoomRequest {
  mode: string
  maxPlayers: number
  labels?: Record<string, string>
  region?: string
}

/** `POST /v1/rooms` and `POST /v1/rooms/:id/join`. */
export interface RoomGrant extends JoinGrant {
  roomId: string
}

/** One room in `GET /v1/rooms`. */
export interface RoomSummary {
  roomId: string
  mode: string
  labels: Record<string, string>
  region?: string
  maxPlayers: number
  /** Occupied seats plus unexpired reservations. */
  players: number
  state: 'placing' | 'open' | 'closed'
  workerId?: string
}

/** `GET /v1/rooms?mode=&label=k:v&hasSpace=true&limit=&cursor=`. */
export interface RoomList {
  rooms: RoomSummary[]
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
}

/** `POST /v1/worlds/:id/join`. */
export interface WorldJoinRequest {
  spawn?: { x: number; y: number }
}

export interface WorldGrant extends JoinGrant {
  spawn: { x: number; y: number }
}

/** `POST /v1/matchmaking/tickets`. */
export interface MatchRequest {
  mode: string
  /** Players per match. */
  size: number
  /** Only tickets with equal attributes are matched together (e.g. `{ region: 'eu' }`). */
  attributes?: Record<string, string>
}

export type MatchTicketState = 'queued' | 'matching' | 'matched' | 'expired'

/** `GET /v1/matchmaking/tickets/:id` (and each SSE `ticket` event). */
export interface MatchTicketStatus {
  ticketId: string
  state: MatchTicketState
  /** Set once matched. */
  match?: RoomGrant
}

/** `GET /v1/players/online`. */
export interface PlayersOnline {
  online: number
}
