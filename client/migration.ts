/**
 * One pending move to another worker, ordered by a `migrate` control message: the player's entity
 * now lives on another worker, which the old one relays to meanwhile. The migration dials the new
 * worker with the order's ticket while the old connection keeps serving, takes the new connection
 * only if it joins as the same entity, and otherwise tries again with backoff for as long as the
 * ticket lives (the old connection keeps relaying all along). A newer order cancels this one.
 *
 * The switch itself (which session sends, which one the game's view follows) is the client's:
 * `MigrationHost.switchTo` runs synchronously on the new connection's join-accepted, so nothing the
 * new worker sends next can arrive before the client knows the session is its own.
 */
import type { JoinAccepted, Migrate } from '../core/wire/control-messages.ts'
import { TesseraClientError, toClientError } from './errors.ts'
import type { Grant } from './gateway-api.ts'
import { backoffDelay, ticketExpiresAt } from './reconnect.ts'
import type { BackoffOptions } from './reconnect.ts'
import type { Session } from './session.ts'

/** How long a migrate ticket lives when it does not say (the worker signs them for 30 s). */
export const MIGRATE_TICKET_TTL_MS = 30_000
/** When a ticket stops being accepted (ms since the epoch): its `exp`, or `MIGRATE_TICKET_TTL_MS` from `now`. */
export function ticketValidUntil(ticket: string, now: number): number {
  return ticketExpiresAt(ticket) ?? now + MIGRATE_TICKET_TTL_MS
}

/** No attempt is started this close to the ticket's expiry. */
const EXPIRY_MARGIN_MS = 1_000

/** What a migration needs from the client. */
export interface MigrationHost {
  /**
   * Opens a session to `grant` that continues the player's input numbering. `joined` runs
   * synchronously on its join-accepted: it returns undefined when it takes the session, or why
   * not (the session is then closed). Resolves once the session is taken; rejects when the
   * connection fails, ends or times out before, or is refused. `signal` abandons the attempt.
   */
  dial(grant: Grant, signal: AbortSignal, joined: (session: Session, msg: JoinAccepted) => TesseraClientError | undefined): Promise<unknown>
  /** The new session joined as the same entity: make it the player's session. */
  switchTo(session: Session, msg: JoinAccepted, order: Migrate): void
  /** An attempt failed; `retrying` says whether another follows. */
  failed(error: TesseraClientError, retrying: boolean): void
}

export interface MigrationOptions {
  backoff: BackoffOptions
  random?: () => number
  /** Wall clock, ms since the epoch (ticket expiry is wall time). Default `Date.now`. */
  wallNow?: () => number
}

export type MigrationPhase = 'dialling' | 'waiting' | 'switched' | 'failed' | 'cancelled'

export class Migration {
  /** When the order's ticket stops being accepted (ms since the epoch). */
  readonly validUntil: number
  private readonly abort = new AbortController()
  private readonly wallNow: () => number
  private timer: ReturnType<typeof setTimeout> | undefined
  private attempts = 0
  private phaseValue: MigrationPhase = 'dialling'

  constructor(
    readonly order: Migrate,
    /** The player's entity: the new worker must accept the player as this one. */
    readonly entityId: number,
    private readonly host: MigrationHost,
    private readonly options: MigrationOptions,
  ) {
    this.wallNow = options.wallNow ?? (() => Date.now())
    this.validUntil = ticketValidUntil(order.ticket, this.wallNow())
  }

  /** Starts the first attempt. */
  start(): this {
    if (this.attempts === 0) void this.attempt()
    return this
  }

  get phase(): MigrationPhase {
    return this.phaseValue
  }

  /** Connection attempts made so far. */
  get attemptCount(): number {
    return this.attempts
  }

  /** Still trying (not switched, given up or cancelled). */
  get pending(): boolean {
    return this.phaseValue === 'dialling' || this.phaseValue === 'waiting'
  }

  /** Abandon: closes the new connection if it is still pending. Idempotent; no effect once switched. */
  cancel(): void {
    if (!this.pending) return
    this.phaseValue = 'cancelled'
    clearTimeout(this.timer)
    this.abort.abort()
  }

  private async attempt(): Promise<void> {
    this.attempts++
    this.phaseValue = 'dialling'
    try {
      await this.host.dial({ url: this.order.url, ticket: this.order.ticket }, this.abort.signal, (session, msg) => this.joined(session, msg))
    } catch (err) {
      if (this.phaseValue !== 'dialling') return
      this.retryAfter(toClientError(err))
    }
  }

  private joined(session: Session, msg: JoinAccepted): TesseraClientError | undefined {
    if (this.phaseValue !== 'dialling') return new TesseraClientError('closed', 'the migration was abandoned', false)
    if (msg.entityId !== this.entityId) {
      // Not our entity (it moved on, or came back): this worker spawned a new one for us.
      return new TesseraClientError('migrate_mismatch', `joined as entity ${msg.entityId}, not ${this.entityId}`, true)
    }
    this.phaseValue = 'switched'
    this.host.switchTo(session, msg, this.order)
    return undefined
  }

  private retryAfter(cause: TesseraClientError): void {
    const { backoff } = this.options
    const delay = backoffDelay(this.attempts, backoff, this.options.random)
    const retrying = cause.retryable && this.attempts < backoff.maxAttempts && this.wallNow() + delay < this.validUntil - EXPIRY_MARGIN_MS
    this.phaseValue = retrying ? 'waiting' : 'failed'
    this.host.failed(new TesseraClientError('migrate_failed', `could not move to ${this.order.url}: ${cause.message}`, true), retrying)
    if (retrying) this.timer = setTimeout(() => void this.attempt(), delay)
  }
}
