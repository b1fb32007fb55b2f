/** The gateway's one error class: a stable code (HTTP status from `gatewayErrorStatus`) and a message. */
import { gatewayErrorStatus } from '../core/api/gateway.ts'
import type { ErrorBody, GatewayErrorCode } from '../core/api/gateway.ts'

export class GatewayError extends Error {
  readonly status: number
  readonly retryable: boolean

  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    /** Extra fields of the error body (e.g. `workersWanted`). */
    readonly details: { workersWanted?: number } = {},
  ) {
    super(message)
    this.name = 'GatewayError'
    this.status = gatewayErrorStatus[code]
    this.retryable = code === 'busy' || code === 'no_capacity' || code === 'partition_unassigned'
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.details } }
  }
}
