/**
 * The gateway's join endpoints as the player library calls them. The shapes mirror the gateway's
 * API (`core/api/gateway.ts`), restated here because the player library may depend only on the wire
 * code: only the fields the client needs are read.
 */

/** Where and with what to connect: a worker URL and a ticket for it. */
export interface Grant {
  /** Worker URL, `http://host:port` (geckos.io signalling). */
  url: string
  ticket: string
}

/** What the gateway answers to a join (`JoinGrant` and its room/world variants). */
export interface GatewayGrant {
  workerUrl: string
  ticket: string
  expiresAt?: number
  workerId?: string
  worldId?: string
  roomId?: string
}

export type JoinTarget =
  /** `POST /v1/rooms/:id/join`. */
  | { room: string }
  /** `POST /v1/worlds/:id/join`. */
  | { world: string; spawn?: { x: number; y: number } }
  /** `POST /v1/rooms`: create a room and join it; reconnections join the created room by id. */
  | { create: { mode: string; maxPlayers: number; labels?: Record<string, string>; region?: string } }

export interface GatewayOptions {
  /** Gateway base URL, e.g. `http://127.0.0.1:8080`. */
  gateway: string
  /** Development identity (`x-player-id` header). */
  playerId?: string
  /** Bearer token for a gateway configured to verify player identities. */
  token?: string
  /** Give up on a request after this long. Default 10000 ms. */
  timeoutMs?: number
  /**
   * The HTTP client (default: the global `fetch`). In Node, `nodeHttpFetch` from
   * `client/polyfill-node.ts` costs a fraction of the CPU of Node's built-in `fetch` per request.
   */
  fetch?: GatewayFetch
}

/** The part of `fetch` the gateway calls use: a POST with a JSON body, answered with JSON. */
export type GatewayFetch = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>

export class GatewayError extends Error {
  /** Worth asking again later (5xx, 429, or the network). */
  readonly retryable: boolean

  constructor(
    /** The gateway's error code (`room_full`, `unknown_room`…), or `network` / `bad_response`. */
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message)
    this.name = 'GatewayError'
    this.retryable = code === 'network' || status === 429 || (status !== undefined && status >= 500)
  }
}

/** Asks the gateway for a grant. Rejects with a `GatewayError`. */
export async function requestGrant(options: GatewayOptions, target: JoinTarget): Promise<GatewayGrant> {
  const base = options.gateway.replace(/\/+$/, '')
  let path: string
  let body: unknown
  if ('room' in target) {
    path = `/v1/rooms/${encodeURIComponent(target.room)}/join`
    body = {}
  } else if ('world' in target) {
    path = `/v1/worlds/${encodeURIComponent(target.world)}/join`
    body = target.spawn ? { spawn: target.spawn } : {}
  } else {
    path = '/v1/rooms'
    body = target.create
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (options.playerId !== undefined) headers['x-player-id'] = options.playerId
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`
  let res: Awaited<ReturnType<GatewayFetch>>
  const post: GatewayFetch = options.fetch ?? fetch
  try {
    res = await post(`${base}${path}`, {
      method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    })
  } catch (err) {
    throw new GatewayError('network', err instanceof Error ? err.message : String(err))
  }
  let json: unknown
  try {
    json = await res.json()
  } catch {
    throw new GatewayError('bad_response', `gateway answered ${res.status} without JSON`, res.status)
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error
    const code = typeof error?.code === 'string' ? error.code : 'bad_response'
    throw new GatewayError(code, typeof error?.message === 'string' ? error.message : `gateway answered ${res.status}`, res.status)
  }
  const grant = json as Partial<GatewayGrant> | null
  if (typeof grant?.workerUrl !== 'string' || typeof grant.ticket !== 'string') {
    throw new GatewayError('bad_response', 'gateway grant without workerUrl and ticket', res.status)
  }
  return grant as GatewayGrant
}
