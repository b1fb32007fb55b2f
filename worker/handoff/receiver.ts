/**
 * The receiving side of handoffs on one worker: judge each offer (the pure machine's `judgeOffer`,
 * epochs both ways), import the entity at the tick boundary, answer, and for a player whose
 * connection another worker still holds, follow up with a ticket for here. Answers are remembered
 * per handoff id, so a resent offer gets the same answer and never a second import.
 */
import type { Logger } from '../../core/log.ts'
import { leafInfo } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import type { InputRecord } from '../../core/wire/input-codec.ts'
import type { HandoffOffer, HandoffReply, NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { judgeOffer } from './machine.ts'
import { handoffTrace } from './trace.ts'
import type { HandoffConfig, Verdict } from './machine.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import type { PartitionRunner } from '../partition-runner.ts'
import type { ClientConnection } from '../transport/client-connection.ts'
import type { EntityExport } from '../simulation.ts'
import { decodeEntity, fromPendingInput, gameCodecs } from '../neighbours/codec.ts'

type AnyRunner = PartitionRunner<unknown, unknown>

export interface ReceiverContext {
  workerId: string
  logger: Logger
  config: HandoffConfig
  clientUrl: string
  /** Entities whose player's connection a peer relays (written here, read by ghost publishing). */
  relayedBy: Map<string, string>
  stats: { handoffsIn: number; refused: Record<string, number>; offersWaited: number }
  /** The tick boundary now (offers wait a bounded number of ticks for this worker's map). */
  tick(): number
  map(worldId: string): PartitionMap | undefined
  runner(worldId: string, partitionId: string): AnyRunner | undefined
  runners(): Iterable<AnyRunner>
  runnerOwning(worldId: string, id: number): AnyRunner | undefined
  send(peer: string, frame: NeighbourFrame): void
  /** Remove and return what the sending side still held for an entity coming back (its inputs). */
  takeRecord(key: string): { buffered: InputRecord[]; heldPending: InputRecord[]; moveOrdered: boolean } | undefined
  signTicket?: (claims: { playerId: string; worldId: string; partitionId: string }) => Promise<string>
  /**
   * The player's standby connection parked here, if any (taken: no longer parked). The runner that
   * takes its entity in adopts it, and no ticket is needed.
   */
  takeStandby?: (worldId: string, playerId: string) => ClientConnection<TicketClaims> | undefined
}

const key = (worldId: string, id: number) => `${worldId}:${id}`

/** Ticks an offer may be made ahead of the receiver's tick before the clocks are said to disagree. */
const CLOCK_AHEAD_TICKS = 2

/** An offer made from a newer map than this worker's, kept until this worker's catches up (or the wait runs out). */
interface Waiting {
  from: string
  offer: HandoffOffer
  untilTick: number
}

/** An offer's entity imported; `standby`: its player's standby connection, taken from the pool to be adopted. */
interface Taken {
  standby?: ClientConnection<TicketClaims>
}

/** The answer to an offer whose entity state the game cannot decode. */
const INVALID: Verdict = { accept: false, reason: 'invalid' }

export class HandoffReceiver {
  private readonly decided = new Map<string, Verdict>()
  /** In-process offers: the export itself (with its snapshot history), by handoff id. */
  readonly localExports = new Map<string, EntityExport<unknown>>()
  /** Offers made from a newer map than ours, waiting for ours, by handoff id. */
  private readonly waiting = new Map<string, Waiting>()
  /** Peers whose clock was seen ahead of ours (warned once each). */
  private readonly clockAhead = new Set<string>()

  constructor(private readonly c: ReceiverContext) {}

  /** Whether this worker accepted the handoff (it owns the entity since). */
  accepted(handoffId: string): boolean {
    return this.decided.get(handoffId)?.accept === true
  }

  /** What this worker answered to the handoff, if it did (or still remembers). */
  answered(handoffId: string): 'accepted' | 'refused' | undefined {
    const v = this.decided.get(handoffId)
    return v === undefined ? undefined : v.accept ? 'accepted' : 'refused'
  }

  /**
   * An offer arrived (at a tick boundary). One made from a newer map than ours (the sender saw a
   * change first: its successor is us, or may be) waits for our map to catch up, up to
   * `resendTicks`; any other is judged now.
   */
  onOffer(from: string, offer: HandoffOffer): void {
    if (!offer.to || !offer.from || !offer.entity) return
    this.checkClock(from, offer.tick)
    if (!this.decided.has(offer.handoffId) && this.mapBehind(offer)) {
      // A resend replaces the waiting copy (its state is newer), and waits no longer than it did.
      const before = this.waiting.get(offer.handoffId)
      if (!before) this.c.stats.offersWaited++
      this.waiting.set(offer.handoffId, { from, offer, untilTick: before?.untilTick ?? this.c.tick() + this.c.config.resendTicks })
      return
    }
    this.waiting.delete(offer.handoffId)
    this.judge(from, offer)
  }

  /**
   * Workers number ticks on the cluster's clock, so an offer is made at a tick this worker has
   * reached, or nearly: one made further ahead means the two machines' clocks disagree, and the
   * entity's ticks would run again here. Said once per peer.
   */
  private checkClock(from: string, offerTick: number): void {
    const ahead = offerTick - this.c.tick()
    if (ahead <= CLOCK_AHEAD_TICKS || this.clockAhead.has(from)) return
    this.clockAhead.add(from)
    this.c.logger.warn({ peer: from, offerTick, tick: this.c.tick() }, `an offer from ${from} was made ${ahead} ticks ahead of this worker: the machines' clocks disagree`)
  }

  /**
   * At a tick boundary: offers whose map has arrived here (or whose wait ran out, to be refused as
   * `not_owner` and retried by their sender against its map) are judged, all together, so a
   * partition shipped whole is still taken in at one boundary.
   */
  judgeWaiting(): void {
    if (this.waiting.size === 0) return
    const tick = this.c.tick()
    for (const [id, w] of this.waiting) {
      if (tick < w.untilTick && this.mapBehind(w.offer)) continue
      this.waiting.delete(id)
      this.judge(w.from, w.offer)
    }
  }

  /**
   * Whether our map is behind the one the sender offered from: older than its version, or as new
   * but the partition it gives us there has no runner here yet. (An offer to a partition we run at
   * that epoch or later is never behind; one from a map no newer than ours is judged as it is.)
   */
  private mapBehind(offer: HandoffOffer): boolean {
    const to = offer.to
    if (!to) return false
    const runner = this.c.runner(to.worldId, to.partitionId)
    if (runner && !runner.retiring && runner.ref.epoch >= to.epoch) return false
    const map = this.c.map(to.worldId)
    if (!map || map.version < offer.mapVersion) return true
    const leaf = leafInfo(map, to.partitionId)?.leaf
    return leaf !== undefined && leaf.epoch === to.epoch && leaf.owner === this.c.workerId && !runner
  }

  private judge(from: string, offer: HandoffOffer): void {
    const { to, entity } = offer
    const fromRef = offer.from
    if (!to || !fromRef || !entity) return
    const map = this.c.map(to.worldId)
    const runner = this.c.runner(to.worldId, to.partitionId)
    const previous = this.decided.get(offer.handoffId)
    let verdict = judgeOffer(
      { handoffId: offer.handoffId, from: fromRef, to, entityId: entity.id, pos: entity },
      {
        owned: runner && !runner.retiring ? { ref: runner.ref, rect: runner.options.rect } : undefined,
        mapEpochOfFrom: map ? leafInfo(map, fromRef.partitionId)?.leaf.epoch : undefined,
        alreadyOwns: this.c.runnerOwning(to.worldId, entity.id) !== undefined,
        previous,
        config: this.c.config,
      },
    )
    // An entity whose state the game cannot decode is refused: its sender keeps it.
    let taken: Taken | undefined
    if (verdict.accept && !verdict.duplicate && runner) {
      taken = this.take(runner, offer, from)
      if (taken === undefined) verdict = INVALID
    }
    this.remember(offer.handoffId, verdict)
    // An in-process offer's export is used by `take` or not at all.
    this.localExports.delete(offer.handoffId)
    if (!verdict.accept) this.c.stats.refused[verdict.reason] = (this.c.stats.refused[verdict.reason] ?? 0) + 1
    const reply: HandoffReply = { handoffId: offer.handoffId, accepted: verdict.accept, reason: verdict.accept ? '' : verdict.reason, clientUrl: '', ticket: '' }
    this.c.send(from, { frame: { $case: 'handoffReply', value: reply } })
    if (handoffTrace.enabled) handoffTrace.mark(offer.handoffId, 'answered')
    const playerId = offer.session?.playerId
    const standby = taken?.standby
    // The player's standby connection becomes its connection here once the reply is on the wire
    // (its join-accepted and link set-up cost the sender's wait nothing): the caller writes the
    // reply when it has handled the frames, and the http2 session sends it from a native
    // immediate, which runs before this one. No tick runs in between.
    if (standby && playerId) setImmediate(() => this.adopt(to.worldId, entity.id, playerId, standby))
    const signTicket = this.c.signTicket
    if (!verdict.accept || verdict.duplicate || !playerId || !signTicket) return
    // A ticket for here: to the player itself when its standby connection is adopted (for a
    // reconnection; no move), or, for a player whose connection another worker holds, to that
    // worker in a second reply (its client is sent here with it).
    const adopted = standby !== undefined || runner?.hasPlayer(playerId) === true
    if (!adopted && (!offer.relayWorker || offer.relayWorker === this.c.workerId)) return
    // The sender waits for the reply, not for the ticket: signing (its synchronous part alone
    // costs ~0.2 ms, and ~5 ms the first time) starts only once the reply is on the wire (as the
    // adoption above, which comes first).
    setImmediate(() => {
      signTicket({ playerId, worldId: to.worldId, partitionId: to.partitionId }).then(
        (ticket) => {
          if (adopted) this.c.runnerOwning(to.worldId, entity.id)?.sendControl(playerId, { kind: 'ticket', ticket, worldId: to.worldId })
          else this.c.send(from, { frame: { $case: 'handoffReply', value: { ...reply, ticket, clientUrl: this.c.clientUrl } } })
        },
        (err: unknown) => this.c.logger.warn({ err, playerId }, 'could not sign a ticket for a player handed here'),
      )
    })
  }

  /**
   * The player's standby connection, taken from the pool when its entity was, becomes its
   * connection on the runner simulating the entity (`join-accepted` as that entity, snapshots from
   * the next step). One that closed meanwhile leaves the player on its relay, as one closing just
   * after would.
   */
  private adopt(worldId: string, entityId: number, playerId: string, conn: ClientConnection<TicketClaims>): void {
    const owner = this.c.runnerOwning(worldId, entityId)
    if (!conn.open || !owner || owner.hasPlayer(playerId)) return
    owner.addPlayer(conn)
  }

  /**
   * Import an accepted offer's entity; with the player's standby connection parked here, if it
   * comes with one (adopted once the reply is written). Undefined, nothing taken or changed, when
   * the game's `decode` throws for its state (reported to the runner's faults).
   */
  private take(runner: AnyRunner, offer: HandoffOffer, fromWorker: string): Taken | undefined {
    const entity = offer.entity
    const to = offer.to
    if (!entity || !to) return undefined
    let x = this.localExports.get(offer.handoffId)
    this.localExports.delete(offer.handoffId)
    if (x === undefined) {
      const decoded = decodeEntity(entity, gameCodecs(runner.options.game).state, runner.faults)
      if (decoded === undefined) return undefined
      x = {
        entity: decoded,
        session: offer.session
          ? {
              playerId: offer.session.playerId, lastAppliedSeq: offer.session.lastAppliedSeq, ackedTick: null,
              pending: offer.pendingInputs.map(fromPendingInput).filter((i): i is InputRecord => i !== undefined),
            }
          : null,
      }
    }
    // It comes back to a worker that still had a record of it: inputs held there stay with it.
    const k = key(to.worldId, entity.id)
    const back = this.c.takeRecord(k)
    if (back && x.session) x.session.pending.push(...back.buffered, ...back.heldPending)
    // It goes on from the tick after the one its sender last stepped it at, not at that number
    // again when this worker's tick comes later in the interval.
    runner.sim.importEntity(x, offer.tick)
    this.c.stats.handoffsIn++
    const relay = offer.relayWorker
    if (relay && relay !== this.c.workerId) this.c.relayedBy.set(k, relay)
    else this.c.relayedBy.delete(k)
    const playerId = x.session?.playerId
    if (playerId === undefined) return {}
    if (relay !== this.c.workerId) {
      // Its client opened a standby connection here ahead of the handoff (`prepare`): it becomes
      // the player's connection, and the client switches to it on its join-accepted.
      const standby = relay && !runner.hasPlayer(playerId) ? this.c.takeStandby?.(to.worldId, playerId) : undefined
      return standby ? { standby } : {}
    }
    if (!runner.hasPlayer(playerId)) {
      // Back on the worker holding the player's connection, in another partition: the connection
      // moves to this runner (its next snapshot is a full one).
      for (const other of this.c.runners()) {
        if (other === runner || other.options.worldId !== to.worldId || !other.sim.isRelay(playerId)) continue
        const binding = other.detachPlayer(playerId)
        other.sim.removePlayer(playerId)
        if (binding) runner.attachPlayer(binding)
      }
    }
    // Back before its client moved to where we sent it: that move is void.
    if (fromWorker !== this.c.workerId && back?.moveOrdered) runner.sendControl(playerId, { kind: 'stay', worldId: to.worldId })
    return {}
  }

  private remember(handoffId: string, verdict: Verdict): void {
    this.decided.set(handoffId, verdict)
    // Answers are kept long enough for any resend; the oldest go first.
    if (this.decided.size > 10_000) {
      const oldest = this.decided.keys().next().value
      if (oldest !== undefined) this.decided.delete(oldest)
    }
  }
}
