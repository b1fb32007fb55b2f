/**
 * `TesseraClient`: the player library's typed API. It joins a worker (with a ticket, or through the
 * gateway), keeps the entity set of the player's area of interest as events, sends the player's
 * input once per server tick, and reconnects on its own when the connection drops. Runs in browsers
 * and, after `installNodeWebRTC()`, in Node; it uses no Node-only API.
 *
 * When the player's entity nears a border with another worker, the worker says so ahead (`prepare`,
 * with a standby ticket): the client opens a standby connection there, which that worker holds
 * without spawning anything and takes over the moment the entity is handed to it (`join-accepted`
 * as the same entity): the client switches then, with nothing to dial. An entity handed somewhere
 * no standby waits is relayed by the old worker, which sends `migrate`: the client dials the new
 * worker while the old connection keeps serving (`migration.ts`) and switches when it joins. Either
 * way inputs continue their numbering on the new connection, the old one is kept only until the new
 * one's first snapshot has taken over the game's view, and game code sees one continuous entity
 * stream and a `migrated` event.
 */
import type { ControlMessage, JoinAccepted, Migrate, Prepare } from '../core/wire/control-messages.ts'
import { dequantizePosition } from '../core/wire/entity-table.ts'
import type { SnapshotApplied } from '../core/wire/snapshot-receiver.ts'
import { connector } from './transports.ts'
import type { TransportKind } from './transports.ts'
import type { ConnectOptions, Connection } from './connection.ts'
import { Emitter } from './emitter.ts'
import { EntitySet } from './entity-set.ts'
import type { EntityView } from './entity-set.ts'
import { requestGrant } from './gateway-api.ts'
import type { GatewayOptions, Grant, JoinTarget } from './gateway-api.ts'
import { TesseraClientError, endError, toClientError } from './errors.ts'
import type { InputLane } from './input-lane.ts'
import { laneCounterKeys } from './input-lane.ts'
import { Migration, ticketValidUntil } from './migration.ts'
import { backoffDelay, decideAfterEnd, defaultBackoff, ticketExpiresAt, ticketWorker } from './reconnect.ts'
import type { BackoffOptions } from './reconnect.ts'
import { Session } from './session.ts'
import type { PlayerInput, SessionCounters, SessionEnd, SessionHandlers } from './session.ts'
import { startTicker } from './ticker.ts'
import type { Ticker } from './ticker.ts'

export { TesseraClientError } from './errors.ts'

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'

/** The player moved to another worker: the same entity, now served by `to`. */
export interface ClientMigrated {
  /** The worker URL the client left. */
  from: string
  /** The worker URL it is connected to now. */
  to: string
  entityId: number
  worldId: string
  /** The partition the new worker serves the player from. */
  partition: string | null
}

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
  /**
   * Every snapshot applied (after the entity events). `tick` is the cluster's (its workers number
   * ticks on one clock): it never goes back when the player moves to another worker (the first
   * snapshot there may carry the number of the last one shown: workers run a tick at different
   * moments of the interval, and the new one's state is the newer), and skips only ticks whose
   * snapshot was lost or arrived late.
   */
  snapshot: { tick: number; ackInputSeq: number }
  /** The player switched to another worker (after a `migrate`); its entity and `self` are unchanged. */
  migrated: ClientMigrated
}

export interface TesseraClientOptions {
  /**
   * `webrtc` (default: geckos.io data channels), `websocket` (the fallback for networks that block
   * WebRTC), or `auto` (WebRTC, then WebSocket for good once WebRTC failed to connect).
   */
  transport?: TransportKind
  /** Opens a connection (overrides `transport`); tests pass fakes. */
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
  /** Follow `migrate` orders (switch to the worker that owns the player's entity now). Default true. */
  migrate?: boolean
  /**
   * Open standby connections when told to (`prepare`), so a move to another worker needs no dial.
   * Default true (only with `migrate`).
   */
  standby?: boolean
  /**
   * After switching to the new worker, the old connection stays open (its snapshots keep the view
   * fresh) until the new one's first snapshot, or this long at most. Default 1000 ms.
   */
  migrateOverlapMs?: number
  /** Monotonic ms. Default `performance.now`. */
  now?: () => number
  random?: () => number
}

/** Where grants come from: called for the first connection and for every reconnection. */
export type GrantSource = (context: { reconnect: boolean }) => Promise<Grant>

/**
 * After a switch, snapshots of the new worker older than the last one shown are passed over while
 * they are at most this many seconds' worth of ticks behind it: workers number ticks on one clock,
 * so the new one is behind only while it catches up from a stall; one further behind is on another
 * clock altogether, and believed at once.
 */
const SWITCH_CATCH_UP_S = 1

/** Counters since the client was created, across reconnections. */
export interface ClientStats extends SessionCounters {
  reconnects: number
  /** Switches to another worker, after `migrate` or on a standby connection (always set by `stats()`). */
  migrations?: number
  /** Of those, switches on a standby connection opened ahead (always set by `stats()`). */
  standbySwitches?: number
  /** Standby connections opened after `prepare` (always set by `stats()`). */
  standbyOpened?: number
  /**
   * Snapshots of a worker just switched to that were older than one the game had been shown (it
   * was catching up from a stall), left unshown (always set by `stats()`).
   */
  behindAtSwitch?: number
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
  /** The session that sends inputs and acknowledgements (also while it waits for join-accepted). */
  private session: Session | undefined
  /** Where `session` is connected. */
  private sessionUrl = ''
  /** The worker `session` is connected to (`placeOf`: workers of one process share a URL). */
  private sessionPlace = ''
  /** The session left by a migration, kept until the new one's first snapshot. */
  private retiring: Session | undefined
  private retiringTimer: ReturnType<typeof setTimeout> | undefined
  private migration: Migration | undefined
  /** The last migrate order's grant, for reconnections with a ticket while it is valid. */
  private latestGrant: { grant: Grant; validUntil: number } | undefined
  /** `latestGrant` before the pending migration's order replaced it (a `stay` puts it back). */
  private grantBeforeMigration: { grant: Grant; validUntil: number } | undefined
  private migrations = 0
  /** The standby connection opened after the last `prepare`, if any. */
  private standby: Standby | undefined
  private standbySwitches = 0
  private standbyOpened = 0
  /** The tick of the last snapshot the game was shown. */
  private shownTick: number | undefined
  /** Since the last switch, no snapshot of the new session was shown yet (see `SWITCH_CATCH_UP_S`). */
  private catchingUp = false
  private behindAtSwitch = 0
  /** Sessions whose counters were added to `retired`. */
  private readonly counted = new WeakSet<Session>()
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
    this.connectFn = options.connect ?? connector(options.transport ?? 'webrtc')
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
    const e = id === undefined ? undefined : (this.session?.entity(id) ?? this.retiring?.entity(id))
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
    const out = { ...this.retired }
    const c = this.session?.counters
    if (c) for (const key of Object.keys(out) as Array<keyof SessionCounters>) out[key] += c[key]
    // The retiring session shares the current one's input lane: only its own counters add.
    const r = this.retiring?.ownCounters
    if (r) for (const key of Object.keys(r) as Array<keyof typeof r>) out[key] += r[key]
    return {
      ...out,
      reconnects: this.reconnects,
      migrations: this.migrations,
      standbySwitches: this.standbySwitches,
      standbyOpened: this.standbyOpened,
      behindAtSwitch: this.behindAtSwitch,
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
    // With a ticket (no gateway), a reconnection goes where the last migrate pointed, while valid.
    const latest = reconnect && !this.rejoin && this.latestGrant && this.latestGrant.validUntil - 1000 > Date.now() ? this.latestGrant.grant : undefined
    let grant: Grant
    try {
      grant = latest ?? (await source({ reconnect }))
    } catch (err) {
      throw toClientError(err)
    }
    try {
      return await this.openSession(grant, {
        created: (session) => {
          this.session = session
          this.sessionUrl = grant.url
          this.sessionPlace = placeOf(grant.url, grant.ticket)
        },
        joined: (_session, msg) => {
          if (reconnect) this.reconnects++
          this.accepted = msg
          this.startTicking(msg.tickRate)
          this.setState('connected')
          this.events.emit('joined', msg)
          return undefined
        },
      })
    } catch (err) {
      if (!latest) throw err
      // That worker may have moved on: the next attempt asks the grant source again.
      this.latestGrant = undefined
      const error = toClientError(err)
      throw new TesseraClientError(error.code, error.message, !this.is('closed'))
    }
  }

  /**
   * Connects to `grant` and opens a session on it. `joined` runs synchronously on its
   * join-accepted and takes the session (undefined) or refuses it (the reason; the session is
   * closed). Resolves once taken; rejects when the connection fails, or ends, times out or is
   * refused before. `lane` continues an input numbering; `signal` abandons a session not yet taken.
   */
  private async openSession(
    grant: Grant,
    hooks: {
      lane?: InputLane
      signal?: AbortSignal
      /** Wait for join-accepted without a time limit (a standby connection). */
      untimed?: boolean
      created?: (session: Session) => void
      joined: (session: Session, msg: JoinAccepted) => TesseraClientError | undefined
    },
  ): Promise<JoinAccepted> {
    const { origin, port } = splitUrl(grant.url)
    const conn = await this.connectFn({ url: origin, port, ticket: grant.ticket, timeoutMs: this.options.connectTimeoutMs ?? 10_000 })
    if (this.stateValue === 'closed' || hooks.signal?.aborted) {
      conn.close()
      throw new TesseraClientError('closed', this.stateValue === 'closed' ? 'the client was closed' : 'abandoned', false)
    }
    return new Promise<JoinAccepted>((resolve, reject) => {
      let taken = false
      let failure: TesseraClientError | undefined
      const fail = (error: TesseraClientError): void => {
        failure ??= error
        session.close()
      }
      const timer = hooks.untimed === true
        ? undefined
        : setTimeout(() => fail(new TesseraClientError('timeout', 'no join-accepted in time', true)), this.options.joinTimeoutMs ?? 10_000)
      const shared = this.handlersFor(() => session)
      const session: Session = new Session(
        conn,
        {
          ...shared,
          joined: (msg) => {
            if (taken || failure) return
            clearTimeout(timer)
            const refused = hooks.joined(session, msg)
            if (refused) {
              fail(refused)
              return
            }
            taken = true
            resolve(msg)
          },
          ended: (end) => {
            if (taken) {
              shared.ended(end)
              return
            }
            clearTimeout(timer)
            this.retire(session, this.session === session)
            if (this.session === session) this.session = undefined
            reject(failure ?? endError(end, this.rejoin))
          },
        },
        this.now,
        {
          ...(this.options.inputRedundancy !== undefined ? { inputRedundancy: this.options.inputRedundancy } : {}),
          ...(hooks.lane ? { lane: hooks.lane } : {}),
          // Nobody reads what a snapshot changed unless entities are tracked.
          changes: this.options.trackEntities !== false,
          // A client that never opens standby connections says so: no `prepare` for it, and no
          // crossing of its waits for one.
          noStandby: this.options.standby === false || this.options.migrate === false,
        },
      )
      hooks.signal?.addEventListener('abort', () => {
        if (!taken) fail(new TesseraClientError('closed', 'abandoned', false))
      }, { once: true })
      hooks.created?.(session)
    })
  }

  /** What a session's events mean, once it has joined: it depends on its role when they happen. */
  private handlersFor(get: () => Session): SessionHandlers {
    return {
      joined: () => undefined,
      control: (msg) => {
        if (get() !== this.session) return
        this.events.emit('control', msg)
        if (msg.kind === 'migrate') this.beginMigration(msg)
        else if (msg.kind === 'stay') this.abandonMigration()
        else if (msg.kind === 'prepare') this.openStandby(msg)
        else if (msg.kind === 'unprepare' && this.standby?.place === placeAt(msg.url, msg.workerId)) this.dropStandby()
        else if (msg.kind === 'ticket') this.latestGrant = { grant: { url: this.sessionUrl, ticket: msg.ticket }, validUntil: ticketValidUntil(msg.ticket, Date.now()) }
      },
      snapshot: (result, fresh) => {
        const session = get()
        if (session === this.session) {
          const behind = this.shownTick === undefined ? 0 : this.shownTick - result.tick
          if (this.catchingUp && behind > 0 && behind <= SWITCH_CATCH_UP_S * (this.accepted?.tickRate ?? 20)) {
            // Just switched, and the old worker showed a later tick already (this one is catching
            // up from a stall): the game never sees a tick go back; the next snapshot not behind
            // is shown whole. (One for the tick shown last is shown: the new worker runs each tick
            // later in the interval than the old one did, and its state is the newer.)
            this.behindAtSwitch++
            session?.restartView()
          } else {
            this.catchingUp = false
            this.applySnapshot(result, fresh)
          }
          // The new worker delivers (its first snapshot has taken over the view, or the next one
          // will): the old connection can go.
          if (this.retiring) this.dropRetiring()
        } else if (session === this.retiring) {
          this.applySnapshot(result, fresh)
        }
      },
      protocolError: (detail) => this.events.emit('error', new TesseraClientError('protocol', detail, true)),
      ended: (end) => {
        const session = get()
        if (session === this.retiring) {
          this.retire(session, false)
          this.retiring = undefined
          clearTimeout(this.retiringTimer)
          return
        }
        if (session !== this.session) return
        this.retire(session, true)
        this.session = undefined
        this.migration?.cancel()
        this.migration = undefined
        this.dropRetiring()
        this.dropStandby()
        this.onSessionEnd(end)
      },
    }
  }

  /**
   * A migrate order from the current session: dial the new worker (a newer order replaces a pending
   * one). A standby connection already open there is not doubled: that worker sends it
   * join-accepted once it holds both (a second connection of the player there would replace the
   * first, and its entity with it); the order is dialled only if the standby ends first, or has not
   * joined within the join timeout.
   */
  private beginMigration(order: Migrate): void {
    const self = this.accepted?.entityId
    const session = this.session
    if (this.options.migrate === false || self === undefined || !session || this.is('closed')) return
    // A move to where the session is already: a second connection there would replace the first.
    const place = placeOf(order.url, order.ticket)
    if (place === this.sessionPlace) return
    const standby = this.standby
    if (standby?.place === place && standby.order === undefined) {
      standby.order = order
      standby.fallback = setTimeout(() => {
        if (this.standby !== standby) return
        this.dropStandby()
        this.beginMigration(order)
      }, this.options.joinTimeoutMs ?? 10_000)
      return
    }
    this.dropStandby()
    // A newer order replacing a pending one: a `stay` still goes back to the grant before both.
    if (this.migration?.pending !== true) this.grantBeforeMigration = this.latestGrant
    this.migration?.cancel()
    // A connection an earlier migration left must be gone before we dial again (we may be going back there).
    this.dropRetiring()
    const lane = session.lane
    this.migration = new Migration(
      order,
      self,
      {
        dial: (grant, signal, joined) => this.openSession(grant, { lane, signal, joined }),
        switchTo: (next, msg, o) => this.switchTo(next, msg, o),
        failed: (error, retrying) => {
          this.events.emit('error', error)
          // Given up: a reconnection should not try that ticket first either.
          if (!retrying && this.latestGrant?.grant.ticket === order.ticket) this.latestGrant = undefined
        },
      },
      { backoff: this.backoff ?? defaultBackoff, ...(this.options.random ? { random: this.options.random } : {}) },
    )
    const migration = this.migration
    migration.start()
    this.latestGrant = { grant: { url: order.url, ticket: order.ticket }, validUntil: migration.validUntil }
  }

  /**
   * The current worker has the player's entity again (it came back before the client could move):
   * the pending move is void, and a reconnection goes where it went before that order.
   */
  private abandonMigration(): void {
    // A move deferred to a standby connection there is void too (the standby itself may serve later).
    const standby = this.standby
    if (standby?.order) {
      clearTimeout(standby.fallback)
      standby.order = undefined
    }
    const migration = this.migration
    if (!migration?.pending) return
    migration.cancel()
    this.migration = undefined
    if (this.latestGrant?.grant.ticket === migration.order.ticket) this.latestGrant = this.grantBeforeMigration
  }

  /**
   * The new worker accepted the player as the same entity: from now on inputs and acknowledgements
   * go there only (the lane continues), and its first snapshot, reported whole, replaces the view.
   * The old session stays open until then (its relayed snapshots keep the view fresh), or at most
   * `migrateOverlapMs`.
   */
  private switchTo(next: Session, msg: JoinAccepted, order: { url: string; ticket: string }): void {
    const old = this.session
    this.migration?.cancel()
    this.migration = undefined
    this.dropRetiring()
    // A standby connection anywhere else was for a move that went another way.
    if (this.standby?.session !== next) this.dropStandby()
    else this.standby = undefined
    this.session = next
    this.retiring = old
    next.restartView()
    this.catchingUp = this.shownTick !== undefined
    const from = this.sessionUrl
    this.sessionUrl = order.url
    this.sessionPlace = placeOf(order.url, order.ticket)
    this.accepted = msg
    this.migrations++
    this.startTicking(msg.tickRate)
    if (old) this.retiringTimer = setTimeout(() => this.dropRetiring(), this.options.migrateOverlapMs ?? 1000)
    this.events.emit('migrated', { from, to: order.url, entityId: msg.entityId, worldId: msg.worldId, partition: msg.partition })
  }

  /**
   * A `prepare` from the current session: open a standby connection to the worker named, continuing
   * the current input lane. Its join-accepted (sent when that worker takes the entity in) switches
   * the player there. One standby at a time: a prepare for another worker replaces it, one for the
   * same worker keeps it.
   */
  private openStandby(order: Prepare): void {
    const self = this.accepted?.entityId
    const session = this.session
    if (this.options.migrate === false || this.options.standby === false || self === undefined || !session || this.is('closed')) return
    // Already there, or about to be: one connection to a worker at a time.
    const place = placeOf(order.url, order.ticket)
    if (this.standby?.place === place || this.sessionPlace === place) return
    // Already moving there the other way: the migration's connection is the one to keep.
    if (this.migration?.pending === true && placeOf(this.migration.order.url, this.migration.order.ticket) === place) return
    this.dropStandby()
    const standby: Standby = { place, abort: new AbortController(), session: undefined, order: undefined, fallback: undefined }
    this.standby = standby
    this.standbyOpened++
    this.openSession({ url: order.url, ticket: order.ticket }, {
      lane: session.lane,
      signal: standby.abort.signal,
      untimed: true,
      created: (s) => {
        standby.session = s
      },
      joined: (next, msg) => {
        if (this.standby !== standby) return new TesseraClientError('closed', 'the standby connection was given up', false)
        if (msg.entityId !== self) return new TesseraClientError('migrate_mismatch', `joined as entity ${msg.entityId}, not ${self}`, true)
        clearTimeout(standby.fallback)
        this.standbySwitches++
        this.switchTo(next, msg, order)
        // A standby ticket cannot start a session (it waits for an entity that a lost connection
        // takes with it): until the worker sends a ticket of its own, a reconnection asks the
        // grant source again.
        this.latestGrant = undefined
        return undefined
      },
    }).catch(() => {
      // Ended before it was needed (closed there, or given up here). A move the old worker ordered
      // meanwhile is dialled now.
      if (this.standby !== standby) return
      this.standby = undefined
      clearTimeout(standby.fallback)
      if (standby.order) this.beginMigration(standby.order)
    })
  }

  /** Closes the standby connection, if any (before it joined; afterwards it is the session). */
  private dropStandby(): void {
    const standby = this.standby
    if (!standby) return
    this.standby = undefined
    clearTimeout(standby.fallback)
    standby.abort.abort()
  }

  /** Closes the session a migration left, if any. */
  private dropRetiring(): void {
    clearTimeout(this.retiringTimer)
    const old = this.retiring
    if (!old) return
    this.retiring = undefined
    old.close()
    this.retire(old, false)
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
        return await this.attempt(true)
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
    this.shownTick = result.tick
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

  /**
   * Adds a finished session's counters to the client's, once. `withLane`: its input lane ends with
   * it (not when a migration hands the lane on). inputsAcked is a sequence number per lane: summing
   * the lanes' highest gives a count.
   */
  private retire(session: Session, withLane: boolean): void {
    if (this.counted.has(session)) return
    this.counted.add(session)
    const c = session.counters
    for (const key of Object.keys(this.retired) as Array<keyof SessionCounters>) {
      if (!withLane && laneCounterKeys.includes(key as (typeof laneCounterKeys)[number])) continue
      this.retired[key] += c[key]
    }
  }

  private shutdown(error: TesseraClientError | undefined): void {
    if (this.is('closed')) return
    this.ticker?.stop()
    this.ticker = undefined
    const session = this.session
    this.setState('closed')
    this.migration?.cancel()
    this.migration = undefined
    this.dropRetiring()
    this.dropStandby()
    if (session) {
      session.close()
      this.retire(session, true)
      this.session = undefined
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

/** A standby connection opened after `prepare`, until it joins (and becomes the session) or is dropped. */
interface Standby {
  /** Where it is connected (`placeOf`). */
  place: string
  abort: AbortController
  /** Set once the connection is open. */
  session: Session | undefined
  /** A `migrate` to the same worker that arrived meanwhile: dialled if the standby ends unjoined. */
  order: Migrate | undefined
  fallback: ReturnType<typeof setTimeout> | undefined
}

/** A worker's address and id: workers of one process share the address, the ticket names the worker. */
function placeOf(url: string, ticket: string): string {
  return placeAt(url, ticketWorker(ticket) ?? '')
}

function placeAt(url: string, workerId: string): string {
  return `${url}#${workerId}`
}

/** `http://host:port` → geckos' separate origin and port. */
function splitUrl(url: string): { origin: string; port: number } {
  const u = new URL(url)
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80
  return { origin: `${u.protocol}//${u.hostname}`, port }
}
