/**
 * The player library's errors: one class with a stable `code` (a protocol error code, or a
 * client-side one) and whether the client keeps trying after it; and how connection, gateway and
 * session failures map onto it.
 */
import { ConnectError } from './connection.ts'
import { GatewayError } from './gateway-api.ts'
import { decideAfterEnd, isRetryableError } from './reconnect.ts'
import type { SessionEnd } from './session.ts'

/** Errors the client reports: `code` is a protocol error code or a client-side one. */
export class TesseraClientError extends Error {
  constructor(
    /** A protocol error code (`not_owner`, `room_full`…) or `refused`, `timeout`, `gateway`, `protocol`, `closed`. */
    readonly code: string,
    message: string,
    /** False when the client gives up because of it. */
    readonly retryable: boolean,
  ) {
    super(message)
    this.name = 'TesseraClientError'
  }
}

export function toClientError(err: unknown): TesseraClientError {
  if (err instanceof TesseraClientError) return err
  if (err instanceof ConnectError) return new TesseraClientError(err.code === 'refused' ? 'refused' : err.code, err.message, err.retryable)
  if (err instanceof GatewayError) return new TesseraClientError(err.code, err.message, err.retryable)
  return new TesseraClientError('internal', err instanceof Error ? err.message : String(err), true)
}

/** The error a session's end stands for, when it ended before or because of a server error. */
export function endError(end: SessionEnd, rejoin: boolean): TesseraClientError {
  const said = end.explanation
  if (said?.kind === 'error') return new TesseraClientError(said.code, said.message, isRetryableError(said.code, rejoin))
  if (said?.kind === 'kick') return new TesseraClientError('kicked', `${said.code}: ${said.reason}`, decideAfterEnd(end, rejoin).action === 'reconnect')
  const retryable = decideAfterEnd(end, rejoin).action === 'reconnect'
  return new TesseraClientError('closed', `connection ended (${end.reason}${end.code !== undefined ? ` ${end.code}` : ''})`, retryable)
}
