/**
 * Advance notice of a handoff, on the owner's side: a player connected here whose entity walks
 * within the ghost margin of a border with another worker's partition is told where it may go next
 * (`prepare`, over the reliable control stream), with a standby ticket for that worker, while it is
 * still on our ground. Its client opens that connection at once; the other worker parks it
 * (`StandbyPool`) and adopts it the moment it takes the entity in, so the client switches on the
 * handoff without dialling. The old worker relays only until the client closes its old connection.
 *
 * One notice per player: the worker whose ground its entity stands on, once it has crossed (it is
 * about to be handed there: through a corner that need not be the nearest border's worker), or else
 * the worker whose border is nearest. A player who walks out of every such margin, and stays out
 * for `UNPREPARE_AFTER_MS`, is told `unprepare` (its client closes the standby connection); one
 * who lingers gets a fresh ticket every `REFRESH_MS`, so a standby connection that dropped can be
 * opened again. The worker holding the standby connection is told too (`StandbyReleased`), as it
 * is when the player leaves this worker, and closes it whether or not the client obeys. Nothing
 * here decides ownership: a standby that is never adopted costs one idle connection until then,
 * and a handoff that finds none falls back to the relay and `migrate`.
 *
 * A player's entity that crosses before its standby connection is parked ahead (a WebRTC connect
 * can take longer than the walk from the margin to the border; or, through a corner, its player was
 * told about another worker) is held back a little (`holdCrossing`): its handoff waits for the
 * `StandbyParked`, at most `crossingHoldMs`, so the client switches on the standby instead of
 * falling back to `migrate`.
 */
import { clampPoint } from '../../core/geometry.ts'
import type { Logger } from '../../core/log.ts'
import { leafAt } from '../../core/partition-map.ts'
import type { BorderSegment, PartitionMap } from '../../core/partition-map.ts'
import type { WorkerRecord } from '../../core/records.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import type { Entity } from '../game/types.ts'
import { outsideBy } from '../handoff/machine.ts'
import type { PartitionRunner } from '../partition-runner.ts'
import { borderDistance, bordersByOwner } from './ghosts.ts'

type AnyRunner = PartitionRunner<unknown, unknown>

/**
 * A partition about to be shipped whole (its ground given to another worker) waits at most this
 * long for its players' standby connections at the new owner. Default of `transferHoldMs`.
 */
export const TRANSFER_HOLD_MS = 500
/**
 * A player's entity past a border waits at most this long for its standby connection at the worker
 * ahead before it is offered there anyway. Default of `crossingHoldMs`.
 */
export const CROSSING_HOLD_MS = 1_000
/** Out of every margin this long before the standby connection is given up. */
export const UNPREPARE_AFTER_MS = 1_000
/** A lingering player's notice is sent again (fresh ticket) this often; tickets live 30 s. */
export const REFRESH_MS = 20_000

export interface StandbyNoticeDeps {
  workerId: string
  /** Within this distance of a border (the ghost margin). */
  margin: number
  map(worldId: string): PartitionMap | undefined
  /** Live workers by id (their client URLs). */
  workers(): ReadonlyMap<string, WorkerRecord>
  /** A standby ticket for `workerId`. */
  sign(claims: { playerId: string; worldId: string; workerId: string }): Promise<string>
  /** A control message to the player, on whichever runner here holds its connection now. */
  send(worldId: string, playerId: string, message: ControlMessage): void
  /** Tell `peer` to close the player's standby connection parked there, if it still is. */
  release(peer: string, worldId: string, playerId: string): void
  logger: Logger
  now(): number
  /** See `TRANSFER_HOLD_MS`; 0 ships at once (its players are then relayed and sent `migrate`). */
  transferHoldMs: number
  /** See `CROSSING_HOLD_MS`; 0 offers a player's entity as soon as it is past the border. */
  crossingHoldMs: number
}

export interface StandbyNoticeStats {
  /** `prepare` messages sent (refreshes included). */
  prepares: number
  unprepares: number
  /** `StandbyReleased` frames sent. */
  releases: number
  /** Crossings that waited for the player's standby connection to be parked ahead. */
  crossingsHeld: number
  /** Of those, crossings offered when the wait ran out, with no standby parked. */
  crossingHoldsExpired: number
  /** Partitions shipped whole when `transferHoldMs` ran out with a player's standby not parked. */
  transferHoldsExpired: number
}

interface Notice {
  worldId: string
  playerId: string
  peer: string
  url: string
  /** When the last ticket was signed or failed to be (undefined while it is being signed). */
  sentAt: number | undefined
  /** A `prepare` went to the client. */
  sent: boolean
  /** Since when the entity is out of every margin (undefined while inside one). */
  outsideSince: number | undefined
  /** The last sweep that saw its player connected here with its entity. */
  seen: number
  /** The peer said the standby connection is parked there (`StandbyParked`). */
  parked: boolean
  /** Since when its entity's crossing has been held for the standby (`holdCrossing`). */
  heldSince: number | undefined
  /** That hold ran out with no standby parked: the entity is offered without one. */
  holdRanOut: boolean
}

/**
 * The peer whose border (x, y) is nearest, within `margin` (distance across the border, or past a
 * segment's end), or undefined when none is that close.
 */
export function nearestPeer(x: number, y: number, borders: ReadonlyMap<string, readonly BorderSegment[]>, margin: number): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const [peer, segments] of borders) {
    for (const b of segments) {
      const d = borderDistance(x, y, b)
      if (d <= margin && d < bestDistance) {
        best = peer
        bestDistance = d
      }
    }
  }
  return best
}

export class StandbyNotices {
  private readonly notices = new Map<string, Notice>()
  /**
   * Retiring runners holding their shipment for their players' standby connections: since when,
   * and whether the last look found a player still waiting for one.
   */
  private readonly holds = new Map<string, { since: number; waiting: boolean }>()
  private sweep = 0
  readonly stats: StandbyNoticeStats = { prepares: 0, unprepares: 0, releases: 0, crossingsHeld: 0, crossingHoldsExpired: 0, transferHoldsExpired: 0 }

  constructor(private readonly deps: StandbyNoticeDeps) {}

  /** Notices outstanding (sent or being signed). */
  get size(): number {
    return this.notices.size
  }

  /** Once per tick, after the step: look at every player connected to one of `runners`. */
  update(runners: Iterable<AnyRunner>): void {
    const sweep = ++this.sweep
    const now = this.deps.now()
    const workers = this.deps.workers()
    const live = new Set<string>()
    for (const r of runners) {
      live.add(r.key)
      if (r.options.kind !== 'world' || r.players === 0) continue
      const map = r.retiring ? undefined : this.deps.map(r.options.worldId)
      if (!r.retiring && !map) continue
      // A retiring runner's notices are `holdTransfer`'s now: kept as they are.
      const borders = map && foreignBorders(map, r.options.partitionId, this.deps.workerId, workers)
      for (const playerId of r.playerIds()) {
        const k = `${r.options.worldId}:${playerId}`
        const notice = this.notices.get(k)
        if (r.opensNoStandby(playerId)) {
          // Its client opens no standby connections: nothing to tell it, nothing to wait for.
          if (notice) this.withdraw(k, notice)
          continue
        }
        // Kept while the player is connected here, its entity here or not (handed on, and relayed
        // until the client switches: the notice's standby may be the one adopted).
        if (notice) notice.seen = sweep
        if (!borders) continue
        const e = ownEntity(r, playerId)
        if (!e) continue
        const peer = groundOwner(map, r, e, this.deps.workerId, workers) ?? (borders.size === 0 ? undefined : nearestPeer(e.x, e.y, borders, this.deps.margin))
        if (peer !== undefined) {
          const url = workers.get(peer)?.clientUrl
          if (url === undefined) continue
          // Nearer another worker now (a corner): the standby connection there replaces this one.
          if (this.aim(k, r.options.worldId, playerId, peer, url, notice) || !notice) continue
          notice.outsideSince = undefined
          if (notice.sentAt !== undefined && now - notice.sentAt >= REFRESH_MS) this.prepare(k, r.options.worldId, playerId, peer, url, sweep, notice.sent)
        } else if (notice) {
          notice.outsideSince ??= now
          if (now - notice.outsideSince >= UNPREPARE_AFTER_MS) this.withdraw(k, notice)
        }
      }
    }
    // Players no longer connected here (gone, or switched to where their entity went): nothing to
    // tell them; a standby still parked for one of them (never adopted) is released.
    for (const [k, n] of this.notices) {
      if (n.seen === sweep) continue
      this.notices.delete(k)
      this.release(n)
    }
    for (const k of this.holds.keys()) if (!live.has(k)) this.holds.delete(k)
  }

  /** `StandbyParked` from `at`: the standby connection it was told to open is ready there. */
  parked(worldId: string, playerId: string, at: string): void {
    const notice = this.notices.get(`${worldId}:${playerId}`)
    if (notice?.peer === at) notice.parked = true
  }

  /**
   * A player connected here whose entity is past the border into `peer`'s ground, about to be
   * offered there: true while the offer should wait, because its client was told to connect there
   * (`prepare`) and that connection is not parked there yet. At most `crossingHoldMs` from the
   * first time asked, once per notice (a notice is made afresh at each `prepare`).
   */
  holdCrossing(worldId: string, playerId: string, peer: string): boolean {
    if (this.deps.crossingHoldMs <= 0) return false
    const k = `${worldId}:${playerId}`
    let notice = this.notices.get(k)
    if (notice?.peer !== peer) {
      // Told about another worker (or none): pointed at this one now, and waited for.
      const url = this.deps.workers().get(peer)?.clientUrl
      if (url === undefined) return false
      this.aim(k, worldId, playerId, peer, url, notice)
      notice = this.notices.get(k)
    }
    if (notice === undefined || notice.parked) return false
    const now = this.deps.now()
    if (notice.heldSince === undefined) {
      notice.heldSince = now
      this.stats.crossingsHeld++
    }
    if (now - notice.heldSince < this.deps.crossingHoldMs) return true
    if (!notice.holdRanOut) this.stats.crossingHoldsExpired++
    notice.holdRanOut = true
    return false
  }

  /**
   * A retiring runner about to ship its partition whole: each player connected to it, with its
   * entity here, is told about the worker that takes that entity (`successor`), as if it stood at
   * a border with it. True while the shipment should wait: until every such player's standby
   * connection is parked there, or `transferHoldMs` after the first call for this runner.
   */
  holdTransfer(r: AnyRunner, successor: (x: number, y: number) => string | undefined): boolean {
    const holdMs = this.deps.transferHoldMs
    if (holdMs <= 0 || r.players === 0) return false
    const now = this.deps.now()
    let hold = this.holds.get(r.key)
    if (hold === undefined) {
      hold = { since: now, waiting: false }
      this.holds.set(r.key, hold)
    }
    if (now - hold.since >= holdMs) {
      if (hold.waiting) this.stats.transferHoldsExpired++
      hold.waiting = false
      return false
    }
    const workers = this.deps.workers()
    let waiting = false
    for (const playerId of r.playerIds()) {
      if (r.opensNoStandby(playerId)) continue
      const e = ownEntity(r, playerId)
      const peer = e && successor(e.x, e.y)
      const url = peer === undefined || peer === this.deps.workerId ? undefined : workers.get(peer)?.clientUrl
      if (url === undefined || peer === undefined) continue
      const k = `${r.options.worldId}:${playerId}`
      const notice = this.notices.get(k)
      if (this.aim(k, r.options.worldId, playerId, peer, url, notice) || notice?.parked !== true) waiting = true
    }
    hold.waiting = waiting
    return waiting
  }

  /**
   * Point a player's notice at `peer` (at `url`): when `notice` (its current one) is for another
   * worker or none, that one is withdrawn and a `prepare` for `peer` made. True when it was.
   */
  private aim(k: string, worldId: string, playerId: string, peer: string, url: string, notice: Notice | undefined): boolean {
    if (notice !== undefined && notice.peer === peer && notice.url === url) return false
    if (notice) this.withdraw(k, notice)
    this.prepare(k, worldId, playerId, peer, url, this.sweep, false)
    return true
  }

  /** Sign a ticket for `peer` and send it; `sent`: an earlier `prepare` for the same peer went already. */
  private prepare(k: string, worldId: string, playerId: string, peer: string, url: string, sweep: number, sent: boolean): void {
    const parked = this.notices.get(k)?.parked === true && sent
    const notice: Notice = { worldId, playerId, peer, url, sentAt: undefined, sent, outsideSince: undefined, seen: sweep, parked, heldSince: undefined, holdRanOut: false }
    this.notices.set(k, notice)
    this.deps.sign({ playerId, worldId, workerId: peer }).then(
      (ticket) => {
        if (this.notices.get(k) !== notice) return
        notice.sentAt = this.deps.now()
        notice.sent = true
        this.stats.prepares++
        this.deps.send(worldId, playerId, { kind: 'prepare', url, ticket, worldId })
      },
      (err: unknown) => {
        // Tried again at the next refresh rather than every tick.
        notice.sentAt = this.deps.now()
        this.deps.logger.warn({ err, playerId, peer }, 'could not sign a standby ticket')
      },
    )
  }

  /** The player no longer needs the standby: told so, and the worker holding it too. */
  private withdraw(k: string, notice: Notice): void {
    this.notices.delete(k)
    // A prepare still being signed is never sent (the notice is no longer current).
    if (!notice.sent) return
    this.stats.unprepares++
    this.deps.send(notice.worldId, notice.playerId, { kind: 'unprepare', url: notice.url, workerId: notice.peer, worldId: notice.worldId })
    this.release(notice)
  }

  /**
   * The worker the notice sent the player to closes its standby connection, if still parked there.
   * Only for a notice whose player's entity is not on its way there from here: withdrawn while the
   * entity is ours, or forgotten once the player left.
   */
  private release(notice: Notice): void {
    if (!notice.sent) return
    this.stats.releases++
    this.deps.release(notice.peer, notice.worldId, notice.playerId)
  }
}

/** A partition's borders with other live workers' partitions, by owner. */
function foreignBorders(map: PartitionMap, partitionId: string, self: string, workers: ReadonlyMap<string, WorkerRecord>): Map<string, BorderSegment[]> {
  const out = bordersByOwner(map, partitionId)
  for (const owner of out.keys()) if (owner === self || !workers.has(owner)) out.delete(owner)
  return out
}

/**
 * The live worker other than `self` whose ground `e` stands on, once it is past its runner's edge
 * (about to be handed there); undefined while it is on the runner's own ground, or on this worker's.
 */
function groundOwner(map: PartitionMap, r: AnyRunner, e: { x: number; y: number }, self: string, workers: ReadonlyMap<string, WorkerRecord>): string | undefined {
  if (outsideBy(r.options.rect, e) <= 0) return undefined
  const owner = leafAt(map, clampPoint(map.bounds, e))?.owner
  return owner && owner !== self && workers.has(owner) ? owner : undefined
}

/** The player's entity, when this runner simulates it (not when it only relays the player). */
function ownEntity(r: AnyRunner, playerId: string): Readonly<Entity<unknown>> | undefined {
  if (r.sim.isRelay(playerId)) return undefined
  const id = r.sim.playerEntity(playerId)
  return id === undefined ? undefined : r.sim.entity(id)
}
