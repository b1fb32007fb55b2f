/**
 * The worker's `ClientConnection` interface implemented in memory: what the worker sends to the
 * player goes to `receive`, and `send` hands the worker a datagram as if it came off the network.
 * Benchmarks and tests use it to drive players in the worker's own process, without WebRTC.
 */
import type { TicketClaims } from '../../../core/tickets.ts'
import type { ClientConnection } from '../../../worker/transport/client-connection.ts'

export class MemoryConnection {
  readonly conn: ClientConnection<TicketClaims>
  private onMessage: (bytes: Uint8Array) => void = () => undefined
  private onClose: (code: number | undefined) => void = () => undefined
  private readonly state = { open: true }

  constructor(id: string, principal: TicketClaims, receive: (bytes: Uint8Array) => void) {
    const state = this.state
    this.conn = {
      id, route: principal.workerId, principal, rttMs: undefined,
      get open() {
        return state.open
      },
      sendRaw: (bytes) => {
        receive(bytes)
        return true
      },
      onMessage: (listener) => {
        this.onMessage = listener
      },
      onClose: (listener) => {
        this.onClose = (code) => listener('client-closed', code)
      },
      close: () => this.close(),
    }
  }

  /** A datagram from the player to the worker. */
  send(bytes: Uint8Array): void {
    this.onMessage(bytes)
  }

  /** The player goes away (close code 1000); the worker hears of it once. */
  close(): void {
    if (!this.state.open) return
    this.state.open = false
    this.onClose(1000)
  }
}
