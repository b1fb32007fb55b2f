/**
 * Reconnection policy, pure: how long to wait before each attempt, whether a session's end or a
 * failed attempt is worth retrying, and when a ticket stops being usable. The client applies it.
 */
import type { ErrorCodeName } from '../core/wire/protocol.ts'
import { Protocol } from '../core/wire/protocol.ts'
import type { SessionEnd } from './session.ts'

export interface BackoffOptions {
  /** Wait before the first attempt. Default 250 ms. */
  initialMs: number
  /** Longest wait. Default 5000 ms. */
  maxMs: number
  /** Growth per attempt. Default 2. */
  factor: number
  /** Random spread, as a fraction of the wait (0…1), so many clients do not retry in step. Default 0.2. */
  jitter: number
  /** Attempts before giving up. Default 10. */
  maxAttempts: number
}

export const defaultBackoff: Readonly<BackoffOptions> = { initialMs: 250, maxMs: 5000, factor: 2, jitter: 0.2, maxAttempts: 10 }

/** Wait before attempt `attempt` (1-based); `random` in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, attempt - 1))
  const spread = base * options.jitter
  return Math.max(0, Math.round(base - spread + 2 * spread * random()))
}

/**
 * Server errors a new attempt may cure. With `rejoin` (the client joins through the gateway, which
 * hands out a fresh ticket and route each time) ticket and ownership errors are curable too.
 */
const transientErrors = new Set<ErrorCodeName>([
  'shutting_down', 'internal', 'busy', 'no_capacity', 'heartbeat_timeout', 'partition_unassigned', 'stale_epoch', 'rate_limited',
])
const rejoinCurable = new Set<ErrorCodeName>(['not_owner', 'expired_ticket', 'wrong_world', 'unknown_world'])

export function isRetryableError(code: ErrorCodeName, rejoin: boolean): boolean {
  return transientErrors.has(code) || (rejoin && rejoinCurable.has(code))
}

/** Close codes after which coming back would be wrong (another session took over, we were kicked…). */
const finalCloseCodes = new Set<number>([
  Protocol.closeCode.kicked, Protocol.closeCode.protocol_error, Protocol.closeCode.auth_failed, Protocol.closeCode.replaced,
])

export type EndDecision = { action: 'reconnect' } | { action: 'close'; why: string }

/** What to do when a session ended. */
export function decideAfterEnd(end: SessionEnd, rejoin: boolean): EndDecision {
  if (end.reason === 'closed') return { action: 'close', why: 'closed by the client' }
  const said = end.explanation
  if (said?.kind === 'bye') return { action: 'close', why: `the server said goodbye (${said.code})` }
  if (said?.kind === 'kick') {
    return said.code === 'going_away' || said.code === 'heartbeat_timeout'
      ? { action: 'reconnect' }
      : { action: 'close', why: `kicked (${said.code}): ${said.reason}` }
  }
  if (said?.kind === 'error') {
    return isRetryableError(said.code, rejoin) ? { action: 'reconnect' } : { action: 'close', why: `${said.code}: ${said.message}` }
  }
  if (end.reason === 'server-closed' && end.code !== undefined && finalCloseCodes.has(end.code)) {
    return { action: 'close', why: `closed by the server (code ${end.code})` }
  }
  // Unexplained: the network dropped, heartbeats timed out, or the server closed without a word.
  return { action: 'reconnect' }
}

/** The `exp` claim of a JWT ticket in ms since the epoch, read without verifying (only the worker can). */
export function ticketExpiresAt(ticket: string): number | undefined {
  const exp = ticketClaim(ticket, 'exp')
  return typeof exp === 'number' ? exp * 1000 : undefined
}

/**
 * The worker a ticket is for (its `wrk` claim), if readable. Workers of one process share its
 * address, so a worker is its URL and this id together.
 */
export function ticketWorker(ticket: string): string | undefined {
  const wrk = ticketClaim(ticket, 'wrk')
  return typeof wrk === 'string' ? wrk : undefined
}

/** One claim of a JWT's payload, read without verifying it (the worker verifies). */
function ticketClaim(ticket: string, name: string): unknown {
  const payload = ticket.split('.')[1]
  if (payload === undefined) return undefined
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='))
    return (JSON.parse(json) as Record<string, unknown>)[name]
  } catch {
    return undefined
  }
}
