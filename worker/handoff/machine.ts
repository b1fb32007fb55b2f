/**
 * The handoff state machine for one entity crossing a border, pure: no clocks, no sockets. The
 * runtime (and the property test's model) feed it tick numbers, positions, what the local copy of
 * the map says, and the frames that arrived; it answers what to do at this tick boundary.
 *
 * Owner side:    owned ─offer→ offering ─accepted→ forwarding ─expiry→ released
 *                          ╰──────refused──→ owned (retry later, against the fresh map)
 * Receiver side: ghost ─offer arrives→ accepting ─tick boundary, judged→ owned | refused
 *
 * Authority is never guessed: an offering sender keeps the entity (not simulated, its inputs
 * buffered) until an explicit reply arrives, and re-sends the same offer (same `handoffId`) while it
 * waits. A receiver answers a repeated offer it already accepted with "accepted" again and never
 * imports twice, so lost or duplicated frames can delay a handoff but cannot make two owners.
 */

/** Names one partition at one owner epoch (the shape of the proto's `PartitionRef`). */
export interface Ref {
  worldId: string
  partitionId: string
  epoch: number
}

export interface Point {
  x: number
  y: number
}

export interface Box {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

export interface HandoffConfig {
  /** How far past its partition's edge an entity must be before it is offered (default 4 units). */
  hysteresis: number
  /**
   * Ticks an unanswered offer waits before it is sent again, same id (default 10), doubled per
   * attempt up to 8 times as long: a link delivers in order, so an offer that is merely slow to be
   * answered needs no copy, and copies of many slow offers would only slow the link further.
   */
  resendTicks: number
  /** Ticks a refused entity waits before it is offered again (default 5). */
  retryTicks: number
  /**
   * How far outside its rectangle a receiver still takes an entity (default 3 × hysteresis): offers
   * are made only past the hysteresis band, and the entity moves a little while the offer travels.
   */
  acceptSlack: number
  /** Ticks the old owner keeps forwarding inputs and messages after a handoff (default 100). */
  forwardTicks: number
  /**
   * Offers a worker keeps unanswered towards one peer worker at most (default 128). An entity
   * offered is simulated by nobody until the reply comes; one not offered yet is still simulated
   * here, so a burst of crossings waits its turn in the simulation rather than frozen in a queue.
   */
  maxOffersPerPeer: number
}

export const DEFAULT_HANDOFF: HandoffConfig = { hysteresis: 4, resendTicks: 10, retryTicks: 5, acceptSlack: 12, forwardTicks: 100, maxOffersPerPeer: 128 }

/** Owner-side state of one entity. */
export type OwnerPhase =
  | { phase: 'owned'; retryAt: number }
  | {
      phase: 'offering'
      handoffId: string
      from: Ref
      to: Ref
      /**
       * The worker the offer went to. Resends go there even if the map has moved `to` since: only
       * that worker knows what it answered, and another worker's refusal would not prove it refused.
       */
      toWorker: string
      sentAt: number
      attempts: number
    }
  | { phase: 'forwarding'; to: Ref; until: number }
  | { phase: 'released' }

export const OWNED: OwnerPhase = { phase: 'owned', retryAt: -Infinity }

/** How far `p` lies outside `r` (0 inside or on the edge). */
export function outsideBy(r: Box, p: Point): number {
  const dx = p.x < r.minX ? r.minX - p.x : p.x > r.maxX ? p.x - r.maxX : 0
  const dy = p.y < r.minY ? r.minY - p.y : p.y > r.maxY ? p.y - r.maxY : 0
  return Math.max(dx, dy)
}

export function sameRef(a: Ref, b: Ref): boolean {
  return a.worldId === b.worldId && a.partitionId === b.partitionId && a.epoch === b.epoch
}

export interface OfferCheck {
  phase: OwnerPhase
  tick: number
  pos: Point
  /** The sender's partition rectangle now. */
  rect: Box
  /**
   * True when the sender no longer owns its partition (the map moved it): everything goes to the
   * successor, wherever it stands.
   */
  handingOver: boolean
  /** Where the entity would go (owner of the leaf at its position, or the successor), if anyone. */
  target: Ref | undefined
  self: Ref
  config: HandoffConfig
}

/** Sender, at a tick boundary: offer this entity now? */
export function shouldOffer(c: OfferCheck): boolean {
  if (c.phase.phase !== 'owned' || c.tick < c.phase.retryAt || c.target === undefined) return false
  if (c.handingOver) return true
  // Past the band only, so an entity standing on the border stays where it is.
  if (outsideBy(c.rect, c.pos) <= c.config.hysteresis) return false
  return !(c.target.partitionId === c.self.partitionId && c.target.worldId === c.self.worldId)
}

export function startOffer(handoffId: string, from: Ref, to: Ref, toWorker: string, tick: number): OwnerPhase {
  return { phase: 'offering', handoffId, from, to, toWorker, sentAt: tick, attempts: 1 }
}

/** Sender: the unanswered offer should be sent again now (same id). Marks it sent. */
export function resendDue(phase: OwnerPhase, tick: number, config: HandoffConfig): boolean {
  if (phase.phase !== 'offering') return false
  const wait = config.resendTicks * 2 ** Math.min(3, phase.attempts - 1)
  if (tick - phase.sentAt < wait) return false
  phase.sentAt = tick
  phase.attempts++
  return true
}

export interface Reply {
  handoffId: string
  accepted: boolean
}

/**
 * Sender: a reply arrived. Accepted: authority has passed, forward what still comes. Refused: keep
 * authority, try again later against the map as it will be then. Replies to anything but the
 * current offer (duplicates, late replies to an older attempt) change nothing.
 */
export function onReply(phase: OwnerPhase, reply: Reply, tick: number, config: HandoffConfig): OwnerPhase {
  if (phase.phase !== 'offering' || phase.handoffId !== reply.handoffId) return phase
  if (reply.accepted) return { phase: 'forwarding', to: phase.to, until: tick + config.forwardTicks }
  return { phase: 'owned', retryAt: tick + config.retryTicks }
}

/**
 * Sender: the offer is withdrawn, and the sender keeps authority and tries again later, as after a
 * refusal. Either it could not be made at all (nothing was sent, so nobody can have taken it), or
 * its receiver's registration ended before it answered (see `Border.afterTick`).
 */
export function withdraw(phase: OwnerPhase, tick: number, config: HandoffConfig): OwnerPhase {
  return phase.phase === 'offering' ? { phase: 'owned', retryAt: tick + config.retryTicks } : phase
}

/** Sender: forwarding ran out; nothing more is kept about the entity. */
export function expire(phase: OwnerPhase, tick: number): OwnerPhase {
  return phase.phase === 'forwarding' && tick >= phase.until ? { phase: 'released' } : phase
}

/** The sender holds authority (simulates it, or has an unanswered offer out). */
export function holdsAuthority(phase: OwnerPhase): boolean {
  return phase.phase === 'owned' || phase.phase === 'offering'
}

export interface Offer {
  handoffId: string
  from: Ref
  to: Ref
  entityId: number
  pos: Point
}

export interface ReceiverView {
  /** This receiver's partition named by `offer.to` at the epoch it owns it now, if it does. */
  owned: { ref: Ref; rect: Box } | undefined
  /** The epoch the receiver's map gives the sender's partition (undefined when unknown). */
  mapEpochOfFrom: number | undefined
  /** The receiver already simulates this entity id. */
  alreadyOwns: boolean
  /**
   * What this receiver answered to this handoff id before, if it did. Answers are final: a resent
   * offer must not be refused once and accepted later (the sender would resume on the refusal).
   */
  previous: Verdict | undefined
  config: HandoffConfig
}

/**
 * Why a receiver refuses an offer. All but `invalid` are `judgeOffer`'s; `invalid` is the runtime's,
 * for an offer it would take but whose entity state the game's codec cannot decode.
 */
export type RefuseReason = 'not_owner' | 'stale_to_epoch' | 'stale_from_epoch' | 'not_here' | 'invalid'

export type Verdict = { accept: true; duplicate: boolean } | { accept: false; reason: RefuseReason }

/** Receiver, at a tick boundary: take the entity or refuse, checking epochs both ways. */
export function judgeOffer(offer: Offer, view: ReceiverView): Verdict {
  // Idempotent: a repeated offer (the reply was lost) gets the same answer, and no second import.
  if (view.previous !== undefined) return view.previous.accept ? { accept: true, duplicate: true } : view.previous
  if (view.alreadyOwns) return { accept: true, duplicate: true }
  const own = view.owned
  if (own === undefined) return { accept: false, reason: 'not_owner' }
  if (offer.to.epoch !== own.ref.epoch) return { accept: false, reason: 'stale_to_epoch' }
  const samePartition = offer.from.worldId === offer.to.worldId && offer.from.partitionId === offer.to.partitionId
  if (samePartition) {
    // A handover: the previous owner of this very partition gives it up to its successor, which
    // takes every entity it had wherever it stands now (one that walked off while waiting its turn
    // is handed on by the successor, from the current epoch). Refusing it for its position would
    // leave the predecessor nobody else to give it to: any other leaf refuses its old epoch.
    if (!(offer.from.epoch < own.ref.epoch)) return { accept: false, reason: 'stale_from_epoch' }
    return { accept: true, duplicate: false }
  } else if (view.mapEpochOfFrom !== undefined && offer.from.epoch < view.mapEpochOfFrom) {
    // The sender lost its partition since it made the offer: its successor hands the entity over.
    return { accept: false, reason: 'stale_from_epoch' }
  }
  if (outsideBy(own.rect, offer.pos) > view.config.acceptSlack) return { accept: false, reason: 'not_here' }
  return { accept: true, duplicate: false }
}
