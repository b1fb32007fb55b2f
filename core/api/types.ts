/**
 * The coordinator's operator API, as seen by its clients (the `tessera ctl` command line and the web
 * dashboard). Plain JSON shapes only: the dashboard imports nothing else from the server side.
 * All routes live under `/api/v1`.
 */

export interface ApiRect {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

/** A partition's id in URLs: `{worldId}:{partitionId}` (partition ids are unique within a world). */
export type GlobalPartitionId = string

export function globalPartitionId(worldId: string, partitionId: string): GlobalPartitionId {
  return `${worldId}:${partitionId}`
}

export function parseGlobalPartitionId(id: string): { worldId: string; partitionId: string } | undefined {
  const at = id.lastIndexOf(':')
  if (at <= 0 || at === id.length - 1) return undefined
  return { worldId: id.slice(0, at), partitionId: id.slice(at + 1) }
}

export interface WorkerView {
  id: string
  clientUrl: string
  grpcAddress: string
  version: string
  labels: Record<string, string>
  region?: string
  draining: boolean
  /** Load budget, ms of simulation per second. */
  capacity: number
  /** Reported load, ms of simulation per second (sum over its partitions, smoothed). */
  load: number
  /** load / capacity. */
  loadRatio: number
  partitions: number
  rooms: number
  clients: number
  entities: number
  /** ms since its last load report; null when it never reported. */
  lastReportAgeMs: number | null
}

export interface WorldSummary {
  id: string
  kind: 'world' | 'room'
  bounds: ApiRect
  mode?: string
  maxPlayers?: number
  partitions: number
  entities: number
  clients: number
  /** The partition map's version (grows with every change). */
  mapVersion: number
  createdAt: number
}

export interface ClusterTotals {
  workers: number
  draining: number
  worlds: number
  rooms: number
  partitions: number
  entities: number
  clients: number
  load: number
  capacity: number
}

export interface ClusterSummary {
  /** The coordinator that answered. */
  self: { id: string; leading: boolean }
  /** The current leader, as the store's election says. */
  leader: { id: string; apiUrl: string } | null
  /** Rebalancing paused by an operator (assignment of orphaned partitions still runs). */
  paused: boolean
  workers: WorkerView[]
  worlds: WorldSummary[]
  totals: ClusterTotals
  /** Workers the planner wants beyond the live ones (> 0: add; < 0: could remove). */
  workersWanted: number
}

export interface PartitionLoadView {
  tickCostMs: number
  entities: number
  clients: number
  bytesOutPerS: number
  /** Where the load lies inside the partition. */
  summary: { rect: ApiRect; weight: number }[]
}

export interface PartitionView {
  id: GlobalPartitionId
  worldId: string
  partitionId: string
  rect: ApiRect
  owner: string | null
  epoch: number
  pinned: boolean
  /** Sibling leaf it could merge with, if any. */
  mergeableWith: string | null
  load: PartitionLoadView | null
}

export interface WorldDetail {
  spec: WorldSummary & { labels: Record<string, string>; region?: string }
  partitions: PartitionView[]
  /** Split lines of the k-d tree (for drawing borders). */
  splits: { id: string; axis: 'x' | 'y'; at: number; rect: ApiRect }[]
}

export type ClusterEventType = 'map' | 'decision' | 'membership' | 'leadership' | 'operator' | 'load'

/** One entry of the event stream (`GET /api/v1/events`, server-sent events, newest last). */
export interface ClusterEvent {
  /** Grows by one per event on this coordinator; SSE `id`, so a reconnect resumes after it. */
  seq: number
  /** Wall-clock ms. */
  at: number
  type: ClusterEventType
  /** One line for people: "split p3 of w1: 34 ms/s > hot bound 28". */
  message: string
  worldId?: string
  partitionId?: string
  workerId?: string
  /** Partition epoch after the change, for map changes. */
  epoch?: number
  /** Machine-readable details: decision kind, before/after, loads. */
  details?: Record<string, unknown>
}

export interface ActionResult {
  ok: true
  message: string
}

/** Every error answer of the API: `{ error: { code, message } }` with an HTTP status. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string }
}

export const apiErrorCodes = {
  not_found: 404,
  bad_request: 400,
  conflict: 409,
  not_leader: 503,
  unavailable: 503,
  /** The request body is larger than the API accepts. */
  payload_too_large: 413,
  /** Anything unexpected on the server's side; the message says no more than that. */
  internal: 500,
} as const
export type ApiErrorCode = keyof typeof apiErrorCodes
