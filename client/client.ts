/**
 * `TesseraClient`: the player library's typed API. It joins a worker (with a ticket, or through the
 * gateway), keeps the entity set of the player's area of interest as events, sends the player's
 * input once per server tick, and reconnects on its own when the connection drops. Runs in browsers
 * and, after `installNodeWebRTC()`, in Node; it uses no Node-only API.
 */
import type { ControlMessage, JoinAccepted } from '../core/wire/control-messages.ts'
import { dequantizePosition } from '../core/wire/entity-table.ts'
import type { SnapshotApplied } from '../core/wire/snapshot-receiver.ts'
import { connect as connectGeckos } from './connection.ts'
import type { ConnectOptions, Connection } from './connection.ts'
import { Emitter } from './emitter.ts'
import { EntitySet } from './entity-set.ts'
import type { EntityView } from './entity-set.ts'
import { requestGrant } from './gateway-api.ts'
import type { GatewayOptions, Grant, JoinTarget } from './gateway-api.ts'
import { TesseraClientError, endError, toClientError } from './errors.ts'
import { backoffDelay, decideAfterEnd, defaultBackoff, ticketExpiresAt } from './reconnect.ts'
import type { BackoffOptions } from './reconnect.ts'
import { Session } from './session.ts'
import type { PlayerInput, SessionCounters, SessionEnd } from './session.ts'
import { startTicker } from './ticker.ts'
import type { Ticker } from './ticker.ts'

export { TesseraClientError } from './errors.ts'

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'

export interface TesseraClientEvents {
  [key: string]: unknown
  entityAdded: EntityView
  entityUpdated: EntityView
  /** The entity as last seen. */
  entityRemoved: EntityView
  joined: JoinAccepted
  /** Every control message, join-accepted and migrate included. */
  control: ControlMessage
  error: TesseraClientError
  stateChange: { state: ClientState; previous: ClientState }
  /** Once per client tick, before the input is sent: the place to call `sendInput`. */
  tick: { tick: number }
  /** Every snapshot applied (after the entity events). */
  snapshot: { tick: number; ackInputSeq: number }
}

export interface TesseraClientOptions {
  /** Opens a connection (default: geckos.io via `client/connection.ts`); tests pass fakes. */
  connect?: (options: ConnectOptions) => Promise<Connection>
  /** Channel open timeout per attempt. Default 10000 ms. */
  connectTimeoutMs?: number
  /** Wait for join-accepted after the channel opened. Default 10000 ms. */
  joinTimeoutMs?: number
  /** Automatic reconnection: false to disable, or backoff settings (defaults in `defaultBackoff`). */
  reconnect?: boolean | Partial<BackoffOptions>
  /** Unacknowledged inputs repeated per packet. Default 4. */
  inputRedundancy?: number
  /** Keep dequantised entities and emit entity events. Default true; headless bots may turn it off. */
  trackEntities?: boolean
  /**
   * Put the client tick on the clock's grid, shared by every client of the process, instead of
   * starting it at the join: many clients in one process (bots) then send together, as one burst.
   * Default false.
   */
  alignTicks?: boolean
  /** Monotonic ms. Default `performance.now`. */
  now?: () => number
  random?: () => number
}

/** Where grants come from: called for the first connection and for every reconnection. */
export type GrantSource = (context: { reconnect: boolean }) => Promise<Grant>

/** Counters since the client was created, across reconnections. */
export interface ClientStats extends SessionCounters {
  reconnects: number
  rttMs: number | undefined
  serverTick: number | undefined
  state: ClientState
}

export class TesseraClient {
  private readonly events: Emitter<TesseraClientEvents>
  private readonly entitySet = new EntitySet()
  private readonly backoff: BackoffOptions | undefined
  private readonly now: () => number
  private readonly connectFn: (options: ConnectOptions) => Promise<Connection>
  private stateValue: ClientState = 'idle'
  private session: Session | undefined
  private source: GrantSource | undefined
  private rejoin = false
  private ticker: Ticker | undefined
  private tickCount = 0
  private queued: Required<PlayerInput> | undefined
  private accepted: JoinAccepted | undefined
  private reconnects = 0
  private readonly retired: SessionCounters = {
    snapshots: 0, staleSnapshots: 0, badSnapshots: 0, tickGaps: 0, inputsSent: 0, inputsAcked: 0,
    inputsUnconfirmed: 0, ackRegressions: 0, bytesIn: 0, bytesOut: 0, controlMessages: 0,
  }

  constructor(private readonly options: TesseraClientOptions = {}) {
    this.events = new Emitter((err) => this.events.emit('error', new TesseraClientError('listener', String(err), true)))
    this.now = options.now ?? (() => performance.now())
    this.connectFn = options.connect ?? connectGeckos
    const r = options.reconnect ?? true
    this.backoff = r === false ? undefined : { ...defaultBackoff, ...(r === true ? {} : r) }
  }

  on<K extends keyof TesseraClientEvents>(event: K, listener: (payload: TesseraClientEvents[K]) => void): () => void {
    return this.events.on(event, listener)
  }

  once<K extends keyof TesseraClientEvents>(event: K, listener: (payload: TesseraClientEvents[K]) => void): () => void {
    return this.events.once(event, listener)
  }

  get state(): ClientState {
    return this.stateValue
  }

  /** The player's own entity id (from join-accepted), once joined. */
  get self(): number | undefined {
    return this.accepted?.entityId
  }

  /** The last join-accepted message. */
  get joinInfo(): JoinAccepted | undefined {
    return this.accepted
  }

  /** The entities currently in the player's area of interest (empty with `trackEntities: false`). */
  entities(): IterableIterator<EntityView> {
    return this.entitySet.values()
  }

  entity(id: number): EntityView | undefined {
    return this.entitySet.get(id)
  }

  /** The player's own entity in the newest snapshot, in world units (works without `trackEntities`). */
  selfPosition(): { x: number; y: number } | undefined {
    const id = this.self
    const e = id === undefined ? undefined : this.session?.entity(id)
    return e === undefined ? undefined : { x: dequantizePosition(e.x), y: dequantizePosition(e.y) }
  }

  /** Joins with a ticket; reconnections reuse it while it has not expired. Resolves on join-accepted. */
  joinWithTicket(grant: Grant): Promise<JoinAccepted> {
    return this.joinWith(async ({ reconnect }) => {
      const exp = ticketExpiresAt(grant.ticket)
      if (reconnect && exp !== undefined && exp <= Date.now()) {
        throw new TesseraClientError('expired_ticket', 'the ticket has expired: join through the gateway to reconnect', false)
      }
      return grant
    }, false)
  }

  /** Joins through the gateway; every reconnection asks the gateway again. */
  join(options: GatewayOptions & JoinTarget): Promise<JoinAccepted> {
    let target: JoinTarget = options
    return this.joinWith(async () => {
      const grant = await requestGrant(options, target)
      // A created room is joined by id afterwards, not created again.
      if ('create' in target && grant.roomId !== undefined) target = { room: grant.roomId }
      return { url: grant.workerUrl, ticket: grant.ticket }
    }, true)
  }

  /** Joins with grants from `source` (`rejoin`: the source hands out fresh grants, so more errors are curable). */
  async joinWith(source: GrantSource, rejoin = false): Promise<JoinAccepted> {
    if (this.stateValue !== 'idle') throw new TesseraClientError('closed', `join called in state ${this.stateValue}`, false)
    this.source = source
    this.rejoin = rejoin
    this.setState('connecting')
    try {
      return await this.attempt(false)
    } catch (err) {
      const error = toClientError(err)
      if (error.retryable && this.backoff && this.is('connecting')) return this.retry(error)
      this.shutdown(error)
      throw error
    }
  }

  /**
   * Sets the input for the next client tick. Several calls within one tick keep the latest axes and
   * merge the buttons, so a press is never lost between ticks.
   */
  sendInput(input: PlayerInput): void {
    const buttons = (input.buttons ?? 0) | (this.queued?.buttons ?? 0)
    this.queued = { moveX: input.moveX, moveY: input.moveY, buttons }
  }

  stats(): ClientStats {
    const c = this.session?.counters
    const out = { ...this.retired }
    if (c) for (const key of Object.keys(out) as Array<keyof SessionCounters>) out[key] += c[key]
    return {
      ...out,
      reconnects: this.reconnects,
      rttMs: this.session?.conn.rttMs ?? this.session?.rttMs,
      serverTick: this.session?.serverTick,
      state: this.stateValue,
    }
  }

  /** Leaves: closes the connection, stops reconnecting, reports every entity as removed. Idempotent. */
  close(): void {
    this.shutdown(undefined)
  }

  // -------------------------------------------------------------------------------- internals

  /** One connection attempt, resolved on join-accepted. */
  private async attempt(reconnect: boolean): Promise<JoinAccepted> {
    const source = this.source
    if (!source) throw new TesseraClientError('closed', 'no grant source', false)
    let grant: Grant
    try {
      grant = await source({ reconnect })
    } catch (err) {
      throw toClientError(err)
    }
    const { origin, port } = splitUrl(grant.url)
    const conn = await this.connectFn({ url: origin, port, ticket: grant.ticket, timeoutMs: this.options.connectTimeoutMs ?? 10_000 })
    if (this.stateValue === 'closed') {
      conn.close()
      throw new TesseraClientError('closed', 'the client was closed', false)
    }
    return new Promise<JoinAccepted>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        session.close()
        reject(new TesseraClientError('timeout', 'no join-accepted in time', true))
      }, this.options.joinTimeoutMs ?? 10_000)
      const session: Session = new Session(
        conn,
        {
          joined: (msg) => {
            if (settled) return
            settled = true
            clearTimeout(timer)
            this.accepted = msg
            this.startTicking(msg.tickRate)
            this.setState('connected')
            this.events.emit('joined', msg)
            resolve(msg)
          },
          control: (msg) => this.events.emit('control', msg),
          snapshot: (result, fresh) => this.applySnapshot(result, fresh),
          protocolError: (detail) => this.events.emit('error', new TesseraClientError('protocol', detail, true)),
          ended: (end) => {
            this.retire(session)
            if (!settled) {
              settled = true
              clearTimeout(timer)
              reject(endError(end, this.rejoin))
              return
            }
            this.onSessionEnd(end)
          },
        },
        this.now,
        this.options.inputRedundancy !== undefined ? { inputRedundancy: this.options.inputRedundancy } : {},
      )
      this.session = session
    })
  }

  private onSessionEnd(end: SessionEnd): void {
    if (this.stateValue === 'closed') return
    const decision = decideAfterEnd(end, this.rejoin)
    const error = end.explanation?.kind === 'error' ? endError(end, this.rejoin) : undefined
    if (error) this.events.emit('error', error)
    if (decision.action === 'close' || !this.backoff) {
      this.shutdown(error ?? new TesseraClientError('closed', decision.action === 'close' ? decision.why : 'connection lost', false))
      return
    }
    // retry() reports its own final failure (an `error` event and the closed state).
    this.retry(error).catch(() => undefined)
  }

  /** Reconnects with backoff; resolves with the join-accepted of the attempt that worked. */
  private async retry(cause: TesseraClientError | undefined): Promise<JoinAccepted> {
    const backoff = this.backoff as BackoffOptions
    if (this.stateValue === 'connected') this.setState('reconnecting')
    let last = cause
    for (let attempt = 1; attempt <= backoff.maxAttempts; attempt++) {
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, backoff, this.options.random)))
      if (this.is('closed')) break
      try {
        const joined = await this.attempt(true)
        this.reconnects++
        return joined
      } catch (err) {
        last = toClientError(err)
        if (this.is('closed')) break
        if (!last.retryable) break
        this.events.emit('error', last)
      }
    }
    const error = last ?? new TesseraClientError('closed', 'could not reconnect', false)
    const final = new TesseraClientError(error.code, error.message, false)
    this.shutdown(final)
    throw final
  }

  private applySnapshot(result: SnapshotApplied, fresh: boolean): void {
    if (this.options.trackEntities !== false) {
      // Removed views are looked up before the set forgets them.
      const removedViews = new Map<number, EntityView>()
      const willRemove = fresh ? [...this.entitySet.values()] : result.removed.map((id) => this.entitySet.get(id))
      for (const v of willRemove) if (v) removedViews.set(v.id, v)
      const changes = this.entitySet.apply(result, fresh)
      for (const id of changes.removed) {
        const view = removedViews.get(id)
        if (view) this.events.emit('entityRemoved', view)
      }
      for (const view of changes.added) this.events.emit('entityAdded', view)
      for (const view of changes.updated) this.events.emit('entityUpdated', view)
    }
    this.events.emit('snapshot', { tick: result.tick, ackInputSeq: result.ackInputSeq })
  }

  /**
   * The client tick runs on its own timer at the server's tick rate. (Replying to each snapshot as
   * it arrives was measured too: the replies then land while the worker is still sending its tick's
   * snapshots, which lengthened its ticks at 200 players without saving CPU.)
   */
  private startTicking(tickRate: number): void {
    if (this.ticker?.hz === tickRate) return
    this.ticker?.stop()
    this.ticker = startTicker(tickRate, () => this.clientTick(), this.now, this.options.alignTicks ?? false)
  }

  private clientTick(): void {
    const session = this.session
    if (!session?.open || session.joined === undefined) return
    this.events.emit('tick', { tick: this.tickCount++ })
    const input = this.queued
    this.queued = undefined
    session.tick(input)
  }

  private retire(session: Session): void {
    if (this.session !== session) return
    for (const key of Object.keys(this.retired) as Array<keyof SessionCounters>) {
      // inputsAcked is a sequence number per session: summing the sessions' highest gives a count.
      this.retired[key] += session.counters[key]
    }
    this.session = undefined
  }

  private shutdown(error: TesseraClientError | undefined): void {
    if (this.is('closed')) return
    this.ticker?.stop()
    this.ticker = undefined
    const session = this.session
    this.setState('closed')
    if (session) {
      session.close()
      this.retire(session)
    }
    if (error && error.code !== 'closed') this.events.emit('error', error)
    const removed = [...this.entitySet.values()]
    this.entitySet.clear()
    for (const view of removed) this.events.emit('entityRemoved', view)
  }

  /** State check that TypeScript does not narrow away (the state changes inside callbacks). */
  private is(state: ClientState): boolean {
    return this.stateValue === state
  }

  private setState(state: ClientState): void {
    const previous = this.stateValue
    if (previous === state) return
    this.stateValue = state
    this.events.emit('stateChange', { state, previous })
  }
}

/** `http://host:port` → geckos' separate origin and port. */
function splitUrl(url: string): { origin: string; port: number } {
  const u = new URL(url)
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80
  return { origin: `${u.protocol}//${u.hostname}`, port }
}
