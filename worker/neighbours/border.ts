/**
 * One worker's borders: ghosts out and in, entity messages to ghosts, and handoffs (both sides),
 * for partitions on other workers (frames over the neighbour links) and on this one (the same
 * frames through a local inbox, no gRPC). Everything happens at tick boundaries: `beforeTick`
 * takes what arrived since the last tick (ghosts, offers, replies, inputs, messages); `afterTick`
 * publishes ghosts, routes messages, and offers entities that left their partition.
 *
 * The decisions are the pure machine's (`../handoff/machine.ts`); this file moves entities,
 * sessions and connections accordingly.
 */
import { clampPoint } from '../../core/geometry.ts'
import type { Logger } from '../../core/log.ts'
import { leafAt, leafInfo, neighbours, ownersOver } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import type { WorkerRecord } from '../../core/records.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import type { InputPacket, InputRecord } from '../../core/wire/input-codec.ts'
import type { EntityMessage, HandoffOffer, HandoffReply, NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { Entity } from '../game/types.ts'
import { DEFAULT_HANDOFF, OWNED, expire, onReply, outsideBy, resendDue, shouldOffer, startOffer, withdraw } from '../handoff/machine.ts'
import type { HandoffConfig, OwnerPhase, Ref } from '../handoff/machine.ts'
import { HandoffReceiver } from '../handoff/receiver.ts'
import { handoffTrace } from '../handoff/trace.ts'
import type { PartitionRunner, RunnerBorder } from '../partition-runner.ts'
import type { EntityExport, Ghost } from '../simulation.ts'
import type { ClientConnection } from '../transport/client-connection.ts'
import { encodeEntity, fromGhostState, fromPendingInput, gameCodecs, toPendingInput } from './codec.ts'
import { GhostStore } from './ghosts.ts'
import { localGhost, publishGhosts, routeMessages, withdrawGhosts } from './traffic.ts'
import { CROSSING_HOLD_MS, StandbyNotices, TRANSFER_HOLD_MS } from './standby-notices.ts'
import type { TrafficContext } from './traffic.ts'

type AnyRunner = PartitionRunner<unknown, unknown>

export interface BorderDeps {
  workerId: string
  logger: Logger
  map(worldId: string): PartitionMap | undefined
  /** Live workers by id. */
  workers(): ReadonlyMap<string, WorkerRecord>
  runners(): Iterable<AnyRunner>
  runner(worldId: string, partitionId: string): AnyRunner | undefined
  /** Queue a frame for a peer worker's link (false when the link is down). */
  sendRemote(peerId: string, frame: NeighbourFrame): boolean
  /** Write the queued frames now (after handling frames between ticks). */
  flushRemote?: () => void
  /** Ghost margin in world units (default 16). */
  ghostMargin: number
  handoff?: Partial<HandoffConfig>
  /**
   * Signs tickets: for a player handed to this worker (so its client can come here directly), and
   * standby tickets for a neighbour (`prepare`; for this worker when `workerId` is not given).
   */
  signTicket?: (claims: { playerId: string; worldId: string; partitionId?: string; workerId?: string; standby?: boolean }) => Promise<string>
  /** Players near a border with another worker are told to connect there ahead (`prepare`). Default true (with `signTicket`). */
  standbyNotices?: boolean
  /** A player's standby connection parked here (`StandbyPool.take`), adopted by the runner taking its entity in. */
  takeStandby?: (worldId: string, playerId: string) => ClientConnection<TicketClaims> | undefined
  /** `issuer` no longer wants the player's standby connection parked here (`StandbyPool.release`). */
  releaseStandby?: (worldId: string, playerId: string, issuer: string) => void
  /** This worker's client URL (sent with tickets). */
  clientUrl: string
  /** Monotonic ms, for the standby notices' delays. Default `performance.now`. */
  now?: () => number
  /**
   * A partition shipped whole waits up to this long for its players' standby connections at the
   * new owner (`StandbyNotices.holdTransfer`). Default `TRANSFER_HOLD_MS` (500).
   */
  transferHoldMs?: number
  /**
   * A player's entity past a border waits up to this long for its standby connection at the worker
   * ahead (`StandbyNotices.holdCrossing`), while within the ghost margin less the hysteresis band.
   * Default `CROSSING_HOLD_MS` (1000).
   */
  crossingHoldMs?: number
}

/** Sender-side record of one entity that left, or is leaving, one of our partitions. */
interface Out {
  runnerKey: string
  worldId: string
  entityId: number
  playerId: string | null
  phase: OwnerPhase
  /** While offering: the entity, out of the simulation, ready to come back on a refusal. */
  held: EntityExport<unknown> | undefined
  /** Inputs that arrived while offering, to forward (accepted) or apply (refused). */
  buffered: InputRecord[]
  /** Game messages to it that arrived while offering: forwarded (accepted) or delivered here (refused). */
  messages: EntityMessage[]
  /** The relayed player closed its connection while the offer was out. */
  closed: boolean
  /** The worker the entity was offered to (where forwarded inputs go). */
  peer: string
  /** performance.now() of the first offer, for the handoff latency. */
  offeredAt: number
  /** Ids of offers made for it (replies, and the ticket that follows an acceptance, find it by them). */
  handoffIds: string[]
  /** Set once handed on: the other worker that holds its player's connection and was told so. */
  relay?: string
  /** Its player's client was told to move (`migrate`) through a connection here. */
  moveOrdered?: boolean
  /**
   * Handed on while its player's connection stays here (relayed): the entity as it left, shown to
   * that player until the new owner's ghost of it arrives (`BRIDGE_TICKS` at most).
   */
  bridge?: HeldEntity & { until: number }
}

export interface BorderStats {
  handoffsOut: number
  handoffsIn: number
  refused: Record<string, number>
  staleGhosts: number
  forwardedInputs: number
  /** Game messages sent to an entity's owner on another worker, or routed through our inbox. */
  messagesOut: number
  /** Game messages that arrived for an entity that had left, sent on after it. */
  forwardedMessages: number
  /**
   * Game messages dropped: for an entity nobody here simulates or follows (it is gone), or that the
   * game's message codec could not encode (sending) or decode (arriving here for its entity).
   */
  messagesDropped: number
  /**
   * Offers made from a newer map than this worker's (or for a partition its map gives it but it has
   * not started), that waited for it (up to `resendTicks`) rather than be refused.
   */
  offersWaited: number
  /** Partitions (or one successor's part of one) shipped whole by a retiring runner, and taken in. */
  transfersOut: number
  transfersIn: number
  /** Offers sent again (same id) for want of a reply, and replies taken in (any, duplicates too). */
  offersResent: number
  repliesIn: number
  /**
   * The most crossing offers ever unanswered towards one peer worker at once (bounded by
   * `maxOffersPerPeer`; a retiring runner's transfers are not bounded and not counted).
   */
  offersWaitingPeak: number
  /** Latest handoff latencies in ms (offer sent → accepted reply taken in; the last 1,000). */
  handoffMs: number[]
}

/** One entity out on offer: held here, simulated nowhere until the receiver answers. */
export interface OfferOut {
  worldId: string
  entityId: number
  handoffId: string
  toWorker: string
  attempts: number
  runnerLive: boolean
  /** How long it has been held (since this offer was made). */
  heldMs: number
}

const key = (worldId: string, id: number) => `${worldId}:${id}`

interface HeldEntity {
  entity: Entity<unknown>
  lastInputSeq: number | undefined
}
const NONE_HELD: readonly HeldEntity[] = []
const NONE: ReadonlySet<number> = new Set()

/** Append `item` to `key`'s list in `lists`, starting the list if there is none. */
function pushTo<T>(lists: Map<string, T[]>, key: string, item: T): void {
  const list = lists.get(key)
  if (list) list.push(item)
  else lists.set(key, [item])
}

/**
 * Ticks a relayed player's entity is still shown as it left, after its handoff was accepted, while
 * the new owner's ghost of it is on its way: without it, the relaying runner has no copy of the
 * player's own entity for the tick or two in between and sends that player no snapshot.
 */
const BRIDGE_TICKS = 10

/** Game messages kept for one entity while its offer is out (a game sending more loses the rest). */
const MAX_HELD_MESSAGES = 256

/**
 * Owners of a retiring runner's ground now: its own leaf's new owner while the leaf exists, and the
 * owners of every leaf over its old rectangle (it was split, or merged into another). They take its
 * entities, so it needs links to them even where no leaf of its own borders theirs any more.
 */
function successors(map: PartitionMap, r: AnyRunner): Set<string> {
  const out = ownersOver(map, r.options.rect)
  const own = leafInfo(map, r.options.partitionId)?.leaf.owner
  if (own) out.add(own)
  return out
}

/** Tell the client of a player this runner relays where its entity lives now, with a ticket there. */
function orderMove(r: AnyRunner, o: Out, url: string, ticket: string, worldId: string): void {
  if (o.playerId === null) return
  r.sendControl(o.playerId, { kind: 'migrate', url, ticket, worldId })
  o.moveOrdered = true
}

export class Border implements RunnerBorder {
  readonly ghosts = new GhostStore()
  private readonly config: HandoffConfig
  private readonly outs = new Map<string, Out>()
  /** Offers sent to other workers at this tick boundary and not answered yet (`awaitingReplies`). */
  private readonly unanswered = new Set<string>()
  private readonly byHandoff = new Map<string, string>()
  /** Entities handed to us whose player's connection a peer still relays: their ghost follows them there. */
  private readonly relayedBy = new Map<string, string>()
  private inbox: { from: string; frame: NeighbourFrame }[] = []
  /** Entities out on offer by runner key (`indexHeld`). */
  private readonly held = new Map<string, HeldEntity[]>()
  /**
   * Per runner key, entities whose last offer could not be made because the game's `encode` threw
   * for them (cleared when one is offered): a retiring runner holding only these never empties.
   */
  private readonly unencodable = new Map<string, Set<number>>()
  /** Relayed players' entities just handed on, by runner key (`indexHeld`; see `Out.bridge`). */
  private readonly bridges = new Map<string, HeldEntity[]>()
  /** Scratch list of `offer` (reused every tick). */
  private readonly candidates: Entity<unknown>[] = []
  private tick = 0
  private seq = 0
  readonly stats: BorderStats = { handoffsOut: 0, handoffsIn: 0, refused: {}, staleGhosts: 0, forwardedInputs: 0, messagesOut: 0, forwardedMessages: 0, messagesDropped: 0, offersWaited: 0, transfersOut: 0, transfersIn: 0, offersResent: 0, repliesIn: 0, offersWaitingPeak: 0, handoffMs: [] }

  /** What ghost publishing and message routing need from us. */
  private readonly traffic: TrafficContext
  private readonly receiver: HandoffReceiver
  /** Advance notice of handoffs to players connected here (with a signing key). */
  readonly notices: StandbyNotices | undefined

  constructor(private readonly deps: BorderDeps) {
    this.config = { ...DEFAULT_HANDOFF, ...deps.handoff }
    this.traffic = {
      workerId: deps.workerId, ghostMargin: deps.ghostMargin, ghosts: this.ghosts, relayedBy: this.relayedBy, stats: this.stats,
      tick: () => this.tick,
      map: (worldId) => deps.map(worldId),
      sendRemote: (peer, frame) => deps.sendRemote(peer, frame),
      send: (peer, frame) => this.send(peer, frame),
      runnerOwning: (worldId, id) => this.runnerOwning(worldId, id),
      follows: (worldId, id) => this.follows(worldId, id),
      held: (runnerKey) => this.heldBy(runnerKey),
      published: new Map(),
    }
    this.receiver = new HandoffReceiver({
      workerId: deps.workerId, logger: deps.logger, config: this.config, clientUrl: deps.clientUrl, relayedBy: this.relayedBy, stats: this.stats,
      tick: () => this.tick,
      map: (worldId) => deps.map(worldId),
      runner: (worldId, partitionId) => deps.runner(worldId, partitionId),
      runners: () => deps.runners(),
      runnerOwning: (worldId, id) => this.runnerOwning(worldId, id),
      send: (peer, frame) => this.send(peer, frame),
      takeRecord: (k) => {
        const o = this.outs.get(k)
        this.dropOut(k)
        return o ? { buffered: o.buffered, heldPending: o.held?.session?.pending ?? [], moveOrdered: o.moveOrdered === true } : undefined
      },
      ...(deps.signTicket ? { signTicket: deps.signTicket } : {}),
      ...(deps.takeStandby ? { takeStandby: deps.takeStandby } : {}),
    })
    const sign = deps.signTicket
    this.notices = sign && deps.standbyNotices !== false
      ? new StandbyNotices({
          workerId: deps.workerId, margin: deps.ghostMargin, logger: deps.logger,
          map: (worldId) => deps.map(worldId),
          workers: () => deps.workers(),
          sign: (c) => sign({ ...c, standby: true }),
          send: (worldId, playerId, message) => {
            for (const r of deps.runners()) {
              if (r.options.worldId === worldId && r.hasPlayer(playerId)) return r.sendControl(playerId, message)
            }
          },
          release: (peer, worldId, playerId) => {
            this.send(peer, { frame: { $case: 'standbyReleased', value: { worldId, playerId } } })
          },
          now: deps.now ?? (() => performance.now()),
          transferHoldMs: deps.transferHoldMs ?? TRANSFER_HOLD_MS,
          crossingHoldMs: deps.crossingHoldMs ?? CROSSING_HOLD_MS,
        })
      : undefined
  }

  /**
   * Frames from a peer's link. Ticks run synchronously, so whenever this runs we are between two
   * ticks: frames are handled at once (an offer accepted now is simulated from the next tick), and
   * what they produce (replies) goes out at once rather than a tick later.
   */
  receive(from: string, frames: NeighbourFrame[]): void {
    for (const frame of frames) this.handle(from, frame)
    this.deps.flushRemote?.()
  }

  /** Whether a runner still has offers out (to any worker, or to those `counts` accepts). */
  busy(runner: AnyRunner, counts: (toWorker: string) => boolean = () => true): boolean {
    for (const o of this.outs.values()) if (o.runnerKey === runner.key && o.phase.phase === 'offering' && counts(o.phase.toWorker)) return true
    return false
  }

  /** Entities of a runner whose last offer failed in the game's `encode` (see `unencodable`). */
  unencodableOf(runner: AnyRunner): ReadonlySet<number> {
    return this.unencodable.get(runner.key) ?? NONE
  }

  /**
   * Whether an offer sent to another worker at the last tick boundary still waits for its reply
   * (offers inside a partition transfer are not counted: the transfer's replies come over many
   * ticks).
   */
  get awaitingReplies(): boolean {
    return this.unanswered.size > 0
  }

  /** Entities out on offer (held here, not simulated anywhere until accepted). */
  offersOut(): OfferOut[] {
    const out: OfferOut[] = []
    const now = performance.now()
    for (const o of this.outs.values()) {
      if (o.phase.phase !== 'offering') continue
      const { handoffId, toWorker, attempts } = o.phase
      out.push({ worldId: o.worldId, entityId: o.entityId, handoffId, toWorker, attempts, runnerLive: this.runnerByKey(o.runnerKey) !== undefined, heldMs: now - o.offeredAt })
    }
    return out
  }

  /** Whether this worker accepted the handoff (it owns the entity since). */
  accepted(handoffId: string): boolean {
    return this.receiver.accepted(handoffId)
  }

  /** What this worker answered to a handoff, if it did (for diagnostics). */
  answered(handoffId: string): 'accepted' | 'refused' | undefined {
    return this.receiver.answered(handoffId)
  }

  /** Workers this one needs links to: owners of leaves adjacent to ours, and peers we relay for. */
  peers(): Set<string> {
    const out = new Set<string>()
    for (const r of this.deps.runners()) {
      const map = this.deps.map(r.options.worldId)
      if (!map || r.options.kind === 'room') continue
      for (const nb of neighbours(map, r.options.partitionId)) if (nb.owner) out.add(nb.owner)
      if (r.retiring) for (const owner of successors(map, r)) out.add(owner)
    }
    for (const o of this.outs.values()) if (o.phase.phase === 'offering') out.add(o.phase.toWorker)
    for (const o of this.outs.values()) if (o.phase.phase === 'forwarding') out.add(o.peer)
    for (const p of this.relayedBy.values()) out.add(p)
    out.delete(this.deps.workerId)
    out.delete('')
    return out
  }

  /** Tick boundary, before stepping: take in everything that arrived; set every runner's ghosts. */
  beforeTick(tick: number): void {
    this.tick = tick
    this.unanswered.clear()
    // Local frames may produce more local frames (an in-process offer, then its reply): one pass.
    for (let i = 0; i < this.inbox.length; i++) {
      const item = this.inbox[i]
      if (item) this.handle(item.from, item.frame)
    }
    this.inbox = []
    this.receiver.judgeWaiting()
    this.indexHeld()
    for (const r of this.deps.runners()) {
      if (r.options.kind === 'room') continue
      // Entities out on offer are not simulated here, but their players near here still see them
      // (first: nobody else simulates them, so any other copy is older).
      const ghosts: Ghost[] = []
      for (const h of this.heldBy(r.key)) ghosts.push(localGhost(r, h.entity, h.lastInputSeq))
      this.ghosts.ghostsFor(r.options.worldId, r.options.partitionId, r.options.epoch, tick, ghosts)
      // Last: the first copy of an id wins, so a bridge only stands in while no ghost is there.
      for (const b of this.bridges.get(r.key) ?? NONE_HELD) ghosts.push(localGhost(r, b.entity, b.lastInputSeq))
      r.sim.setGhosts(ghosts)
    }
  }

  /** Tick boundary, after stepping: ghosts out, messages out, offers out. */
  afterTick(): void {
    const live = new Set<string>()
    this.indexHeld()
    for (const r of this.deps.runners()) {
      if (r.options.kind === 'room') continue
      live.add(r.key)
      publishGhosts(this.traffic, r)
      routeMessages(this.traffic, r)
      this.offer(r)
    }
    withdrawGhosts(this.traffic, live)
    this.dropDeadRelays()
    this.notices?.update(this.deps.runners())
    for (const k of this.unencodable.keys()) if (!live.has(k)) this.unencodable.delete(k)
    const workers = this.deps.workers()
    for (const [k, o] of this.outs) {
      if (o.phase.phase === 'offering' && o.phase.toWorker !== this.deps.workerId && !workers.has(o.phase.toWorker)) this.receiverGone(o)
      // Inputs of a relayed player keep coming through here for as long as its connection lives.
      const relayed = o.playerId !== null && (this.relayedBy.has(k) || this.runnerByKey(o.runnerKey)?.sim.isRelay(o.playerId) === true)
      if (!relayed) o.phase = expire(o.phase, this.tick)
      const idle = o.phase.phase === 'owned' && this.tick >= o.phase.retryAt
      if (o.phase.phase === 'released' || idle) this.dropOut(k)
    }
    this.stats.staleGhosts = this.ghosts.staleDropped
  }

  relayInput(runner: PartitionRunner<never, never>, playerId: string, packet: InputPacket): void {
    const r = runner as unknown as AnyRunner
    const entityId = r.sim.playerEntity(playerId)
    const o = entityId === undefined ? undefined : this.outs.get(key(r.options.worldId, entityId))
    if (!o) return
    if (o.phase.phase === 'offering') o.buffered.push(...packet.inputs)
    else if (o.phase.phase === 'forwarding') this.forward(o, packet.inputs)
  }

  /**
   * Entities whose player's connection was relayed by a worker whose registration has ended: that
   * connection died with it (no `RelayClosed` will come). A player with no connection here either
   * leaves, as it would had the connection closed.
   */
  private dropDeadRelays(): void {
    if (this.relayedBy.size === 0) return
    const workers = this.deps.workers()
    for (const [k, relay] of this.relayedBy) {
      if (relay === this.deps.workerId || workers.has(relay)) continue
      this.relayedBy.delete(k)
      const at = k.lastIndexOf(':')
      const worldId = k.slice(0, at)
      const id = Number(k.slice(at + 1))
      const r = this.runnerOwning(worldId, id)
      const playerId = r?.sim.entity(id)?.playerId
      if (r && playerId != null && !r.hasPlayer(playerId)) r.sim.removePlayer(playerId)
    }
  }

  relayedElsewhere(worldId: string, entityId: number): boolean {
    return this.relayedBy.has(key(worldId, entityId))
  }

  relayClosed(runner: PartitionRunner<never, never>, playerId: string, entityId: number): void {
    const r = runner as unknown as AnyRunner
    const o = this.outs.get(key(r.options.worldId, entityId))
    if (!o) return
    if (o.phase.phase === 'offering') {
      o.closed = true
      return
    }
    if (o.phase.phase === 'forwarding') {
      const to = o.phase.to
      this.send(o.peer, { frame: { $case: 'relayClosed', value: { to, entityId, playerId } } })
    }
    this.dropOut(key(o.worldId, entityId))
  }

  // ── sending side ────────────────────────────────────────────────────────────────────────────

  /**
   * Offer what left `r`'s rectangle (past the hysteresis band) to the owner of the ground it stands
   * on, at most `maxOffersPerPeer` unanswered per peer worker. A retiring runner (its ground given to
   * other leaves or owners) is frozen instead: everything it simulated after its last step goes at
   * once, one `PartitionTransfer` per successor leaf, unbounded, so the partition changes owner at
   * one tick boundary on either side rather than a slice a tick; entities refused (a successor whose
   * map is behind) come back and go again together after the retry wait.
   */
  private offer(r: AnyRunner): void {
    const map = this.deps.map(r.options.worldId)
    if (!map) return
    const self: Ref = r.ref
    // Only entities past the hysteresis band can be offered (all of a retiring runner's): the rest,
    // nearly all of them on most ticks, cost one comparison and no allocation. Collected first,
    // since offering one takes it out of the simulation being iterated.
    const candidates = this.candidates
    candidates.length = 0
    const rect = r.options.rect
    // A retiring runner's players are told where their entities go first; the partition is
    // shipped once their standby connections wait there (or the hold runs out).
    const holding = r.retiring && this.notices !== undefined && this.notices.holdTransfer(r, (x, y) => this.targetFor(r, map, { x, y })?.owner)
    if (!holding) for (const e of r.sim.allEntities()) if (r.retiring || outsideBy(rect, e) > this.config.hysteresis) candidates.push(e)
    // Unanswered offers per peer worker, to keep each under the bound (offers to ourselves take
    // no link and are answered at the next tick boundary).
    const waiting = new Map<string, number>()
    if (candidates.length > 0 && !r.retiring) for (const o of this.outs.values()) if (o.phase.phase === 'offering') waiting.set(o.phase.toWorker, (waiting.get(o.phase.toWorker) ?? 0) + 1)
    // A retiring runner's offers, per successor leaf (`worker|partition|epoch`).
    const transfers = new Map<string, { toWorker: string; offers: HandoffOffer[] }>()
    for (const e of candidates) {
      const k = key(r.options.worldId, e.id)
      const phase = this.outs.get(k)?.phase ?? OWNED
      const target = this.targetFor(r, map, e)
      if (!shouldOffer({ phase, tick: this.tick, pos: e, rect: r.options.rect, handingOver: r.retiring, target: target?.ref, self, config: this.config })) continue
      if (!target || (target.owner === this.deps.workerId && target.ref.partitionId === self.partitionId && target.ref.epoch === self.epoch)) continue
      if (!r.retiring && this.holdsCrossing(r, e, target.owner)) continue
      const out = waiting.get(target.owner) ?? 0
      if (!r.retiring && target.owner !== this.deps.workerId && out >= this.config.maxOffersPerPeer) continue
      // A player connected here stays connected (relayed) until its client moves; a player relayed
      // through us from elsewhere has no connection here to keep.
      const held = r.sim.exportEntity(e.id, { relay: e.playerId !== null && r.hasPlayer(e.playerId) }) as EntityExport<unknown>
      const handoffId = `${this.deps.workerId}.${++this.seq}`
      if (handoffTrace.enabled) handoffTrace.mark(handoffId, 'queued')
      const o: Out = {
        runnerKey: r.key, worldId: r.options.worldId, entityId: e.id, playerId: e.playerId,
        phase: startOffer(handoffId, self, target.ref, target.owner, this.tick), held, buffered: [], messages: [], closed: false, peer: target.owner, offeredAt: performance.now(), handoffIds: [],
      }
      this.dropOut(k)
      this.outs.set(k, o)
      this.byHandoff.set(handoffId, k)
      o.handoffIds.push(handoffId)
      const offer = this.offerOf(r, o)
      if (offer === undefined) {
        // The game cannot encode its state: nothing went out, so the entity goes straight back
        // into the simulation and is offered again after the retry wait, as after a refusal.
        o.phase = withdraw(o.phase, this.tick, this.config)
        this.takeBack(r, o, 'codec')
        const stuck = this.unencodable.get(r.key)
        if (stuck) stuck.add(e.id)
        else this.unencodable.set(r.key, new Set([e.id]))
        continue
      }
      this.unencodable.get(r.key)?.delete(e.id)
      this.stats.handoffsOut++
      if (r.retiring) {
        const to = `${target.owner}|${target.ref.partitionId}|${target.ref.epoch}`
        const transfer = transfers.get(to)
        if (transfer) transfer.offers.push(offer)
        else transfers.set(to, { toWorker: target.owner, offers: [offer] })
        continue
      }
      this.send(target.owner, { frame: { $case: 'handoff', value: offer } })
      waiting.set(target.owner, out + 1)
      if (target.owner !== this.deps.workerId) {
        this.unanswered.add(handoffId)
        this.stats.offersWaitingPeak = Math.max(this.stats.offersWaitingPeak, out + 1)
      }
    }
    candidates.length = 0
    for (const { toWorker, offers } of transfers.values()) {
      this.stats.transfersOut++
      this.send(toWorker, { frame: { $case: 'transfer', value: { offers } } })
    }
    for (const o of this.outs.values()) {
      if (o.runnerKey !== r.key || !resendDue(o.phase, this.tick, this.config)) continue
      // The offer went out once, so an answer may be on its way: if the game cannot encode the
      // entity now, this resend alone is skipped (it stays held until the answer or a later one).
      // A resend goes on its own, whether the first offer did or went in a transfer.
      const offer = this.offerOf(r, o)
      if (offer === undefined || o.phase.phase !== 'offering') continue
      this.send(o.phase.toWorker, { frame: { $case: 'handoff', value: offer } })
      if (o.phase.toWorker !== this.deps.workerId) this.unanswered.add(offer.handoffId)
      this.stats.offersResent++
    }
  }

  /**
   * A player's entity waits on our side while its standby connection ahead is on its way
   * (`StandbyNotices.holdCrossing`), and only while it stays within the ghost margin less a
   * hysteresis band: the worker ahead keeps seeing it as a ghost until it arrives there. Only a
   * player connected here has a standby to wait for (one relayed through another worker moves when
   * that worker tells it to), and only if its client opens them.
   */
  private holdsCrossing(r: AnyRunner, e: Readonly<Entity<unknown>>, peer: string): boolean {
    if (this.notices === undefined || e.playerId === null || peer === this.deps.workerId || !r.hasPlayer(e.playerId) || r.opensNoStandby(e.playerId)) return false
    if (outsideBy(r.options.rect, e) > this.deps.ghostMargin - this.config.hysteresis) return false
    return this.notices.holdCrossing(r.options.worldId, e.playerId, peer)
  }

  private targetFor(r: AnyRunner, map: PartitionMap, e: { x: number; y: number }): { ref: Ref; owner: string } | undefined {
    const leaf = r.retiring ? this.successorLeaf(r, map, e) : leafAt(map, clampPoint(map.bounds, e))
    if (!leaf?.owner) return undefined
    // Only to a live worker (or ourselves): an offer to nobody would hold the entity frozen.
    if (leaf.owner !== this.deps.workerId && !this.deps.workers().has(leaf.owner)) return undefined
    return { ref: { worldId: r.options.worldId, partitionId: leaf.id, epoch: leaf.epoch }, owner: leaf.owner }
  }

  /**
   * Where a retiring runner's entity goes. While its leaf still exists (moved to another worker,
   * perhaps resized), everything goes to that leaf's new owner, wherever it stands: receivers
   * refuse an offer from the leaf's old epoch for any other leaf (stale_from_epoch), and the
   * successor takes a handover whatever the position and hands on what stands elsewhere. When the
   * leaf is gone (split, or merged into another), no receiver has a newer epoch for it to refuse,
   * so the entity goes straight to the owner of the ground it stands on now, even if it walked off
   * the old rectangle while it waited for its turn (offers are paced per peer).
   */
  private successorLeaf(r: AnyRunner, map: PartitionMap, e: { x: number; y: number }): { id: string; owner: string | null; epoch: number } | undefined {
    const own = leafInfo(map, r.options.partitionId)?.leaf
    return own ?? leafAt(map, clampPoint(map.bounds, e))
  }

  /**
   * An entity's offer as it stands now (made, or made again, with the same id). Undefined, nothing
   * to send, when the game's `encode` throws for it (reported).
   */
  private offerOf(r: AnyRunner, o: Out): HandoffOffer | undefined {
    if (o.phase.phase !== 'offering' || !o.held) return undefined
    const { held } = o
    const codecs = gameCodecs(r.options.game)
    const s = held.session
    const entity = encodeEntity(held.entity, codecs.state, s?.lastAppliedSeq ?? 0, r.faults)
    if (entity === undefined) return undefined
    const offer: HandoffOffer = {
      handoffId: o.phase.handoffId, from: o.phase.from, to: o.phase.to, tick: this.tick,
      entity,
      pendingInputs: (s?.pending ?? []).map(toPendingInput),
      ...(s ? { session: { playerId: s.playerId, lastAppliedSeq: s.lastAppliedSeq, lastAckedSnapshot: Math.max(0, s.ackedTick ?? 0) } } : {}),
      relayWorker: s === null ? '' : this.relayWorkerOf(r, o),
      mapVersion: this.deps.map(r.options.worldId)?.version ?? 0,
    }
    if (o.phase.toWorker === this.deps.workerId) this.receiver.localExports.set(offer.handoffId, held)
    return offer
  }

  /** Who holds the connection of an entity's player: us (this runner relays), or whoever relayed it to us. */
  private relayWorkerOf(r: AnyRunner, o: Out): string {
    if (o.playerId !== null && r.sim.isRelay(o.playerId)) return this.deps.workerId
    return this.relayedBy.get(key(o.worldId, o.entityId)) ?? ''
  }

  private onReply(reply: HandoffReply): void {
    this.unanswered.delete(reply.handoffId)
    const k = this.byHandoff.get(reply.handoffId)
    const o = k === undefined ? undefined : this.outs.get(k)
    if (!o) return
    const r = this.runnerByKey(o.runnerKey)
    if (!r) {
      // The runner has stopped since (it retired, having handed everything over): the ticket that
      // follows an acceptance still goes to a relay elsewhere.
      if (reply.ticket && o.phase.phase === 'forwarding') this.tellRelay(o, reply)
      return
    }
    const before = o.phase
    o.phase = onReply(o.phase, reply, this.tick, this.config)
    if (before.phase === 'offering' && o.phase.phase === 'forwarding') {
      this.stats.handoffMs.push(performance.now() - o.offeredAt)
      if (handoffTrace.enabled) handoffTrace.mark(reply.handoffId, 'accepted')
      if (this.stats.handoffMs.length > 1_000) this.stats.handoffMs.shift()
      this.handedOff(r, o, before.toWorker)
      this.tellRelay(o, reply)
    } else if (before.phase === 'offering' && o.phase.phase === 'owned') this.takeBack(r, o, reply.reason)
    if (reply.accepted && reply.ticket && o.phase.phase === 'forwarding' && o.playerId) {
      // Tell the client where its entity lives now; it may connect there early and switch. When
      // another worker holds its connection, that worker tells it.
      if (r.sim.isRelay(o.playerId)) orderMove(r, o, reply.clientUrl, reply.ticket, o.worldId)
      else if (before.phase === 'forwarding') this.tellRelay(o, reply)
    }
  }

  /**
   * A player's entity handed on from here while another worker holds the player's connection
   * (relays it to us): that worker learns the new owner, to forward inputs there directly (we may
   * stop, or drain, before the player leaves), and the new owner's ticket for the client once it
   * comes. Nothing to tell when the entity went back to that worker (it knows) or to ourselves.
   */
  private tellRelay(o: Out, reply: HandoffReply): void {
    if (o.phase.phase !== 'forwarding' || o.playerId === null) return
    const k = key(o.worldId, o.entityId)
    const relay = o.relay ?? this.relayedBy.get(k)
    // The relay forwards to the new owner from now on: ours is only for what is already in flight.
    this.relayedBy.delete(k)
    if (relay === undefined || relay === this.deps.workerId || relay === o.peer) return
    o.relay = relay
    const { clientUrl, ticket } = reply
    this.send(relay, { frame: { $case: 'relayMoved', value: { to: o.phase.to, entityId: o.entityId, playerId: o.playerId, ownerWorkerId: o.peer, clientUrl, ticket } } })
  }

  private handedOff(r: AnyRunner, o: Out, toWorker: string): void {
    const playerId = o.playerId
    const held = o.held
    o.held = undefined
    // Messages that waited for the answer follow the entity: to its runner here, or its new owner.
    for (const m of o.messages) this.messageIn(m)
    o.messages = []
    if (toWorker === this.deps.workerId && playerId !== null) {
      // In-process: the connection itself moves to the new runner, with its snapshot history.
      const now = this.runnerOwning(o.worldId, o.entityId)
      const binding = r.detachPlayer(playerId)
      if (r.sim.isRelay(playerId)) r.sim.removePlayer(playerId)
      if (now && binding) now.attachPlayer(binding)
      if (now && o.buffered.length > 0) now.sim.receiveInput(playerId, { ackTick: null, inputs: o.buffered })
      if (now && o.closed) now.sim.removePlayer(playerId)
      o.buffered = []
      return
    }
    if (o.buffered.length > 0) this.forward(o, o.buffered)
    o.buffered = []
    if (playerId !== null && held && r.hasPlayer(playerId) && r.sim.isRelay(playerId)) {
      o.bridge = { entity: held.entity, lastInputSeq: held.session?.lastAppliedSeq, until: this.tick + BRIDGE_TICKS }
    }
    // A relayed player the receiver now relays to someone else: our dangling relay session goes.
    if (playerId !== null && r.sim.isRelay(playerId) && !r.hasPlayer(playerId)) r.sim.removePlayer(playerId)
    if (o.closed && playerId !== null && o.phase.phase === 'forwarding') {
      this.send(toWorker, { frame: { $case: 'relayClosed', value: { to: o.phase.to, entityId: o.entityId, playerId } } })
    }
  }

  /**
   * The worker an offer went to lost its registration (its lease ended: it died, or lost the store)
   * before it answered. No answer is coming; the entity was simulated nowhere meanwhile and would
   * stay so. Its sender takes it back, simulates it, and offers it again to whoever the map gives
   * that ground to next (only live workers are offered to). Had the receiver taken it in, that copy
   * went with the receiver's partitions, which its successor starts afresh; and a successor that
   * somehow does hold this entity accepts the new offer as a duplicate, so the sender lets its copy
   * go. Should the runner that held it be gone, there is nothing to take it back into.
   */
  private receiverGone(o: Out): void {
    const r = this.runnerByKey(o.runnerKey)
    if (!r) return
    o.phase = withdraw(o.phase, this.tick, this.config)
    this.takeBack(r, o, 'receiver gone')
  }

  private takeBack(r: AnyRunner, o: Out, reason: string): void {
    const held = o.held
    o.held = undefined
    if (!held) return
    if (held.session) held.session.pending.push(...o.buffered)
    o.buffered = []
    r.sim.importEntity(held)
    for (const m of o.messages) this.messageIn(m)
    o.messages = []
    if (o.closed && o.playerId) r.sim.removePlayer(o.playerId)
    this.deps.logger.debug({ entity: o.entityId, reason }, 'handoff refused or not made; keeping the entity')
  }

  private forward(o: Out, inputs: readonly InputRecord[]): void {
    if (o.phase.phase !== 'forwarding') return
    const to = o.phase.to
    for (const i of inputs) {
      this.stats.forwardedInputs++
      this.send(o.peer, { frame: { $case: 'forwardedInput', value: { to, entityId: o.entityId, input: toPendingInput(i) } } })
    }
  }

  // ── receiving side ──────────────────────────────────────────────────────────────────────────

  private handle(from: string, frame: NeighbourFrame): void {
    const f = frame.frame
    if (!f) return
    switch (f.$case) {
      case 'ghosts': {
        const src = f.value.source
        // Ghosts of a world none of our partitions is in would be shown to no one.
        if (!src || !this.anyRunner(src.worldId)) return
        const map = this.deps.map(src.worldId)
        const mapEpoch = map ? leafInfo(map, src.partitionId)?.leaf.epoch : undefined
        this.ghosts.apply(src.worldId, src.partitionId, src.epoch, mapEpoch, f.value.ghosts.map(fromGhostState), this.tick)
        return
      }
      case 'handoff':
        this.receiver.onOffer(from, f.value)
        return
      case 'transfer':
        // A partition frozen by its old owner: every entity in it is judged and taken in now, at
        // this one tick boundary.
        this.stats.transfersIn++
        for (const offer of f.value.offers) this.receiver.onOffer(from, offer)
        return
      case 'handoffReply':
        this.stats.repliesIn++
        this.onReply(f.value)
        return
      case 'forwardedInput': {
        const to = f.value.to
        const input = f.value.input ? fromPendingInput(f.value.input) : undefined
        if (!to || !input) return
        const r = this.runnerOwning(to.worldId, f.value.entityId)
        const playerId = r?.sim.entity(f.value.entityId)?.playerId
        if (r && playerId) r.sim.receiveInput(playerId, { ackTick: null, inputs: [input] })
        else {
          // It moved on from here too: pass it along.
          const o = this.outs.get(key(to.worldId, f.value.entityId))
          if (o?.phase.phase === 'offering') o.buffered.push(input)
          else if (o) this.forward(o, [input])
        }
        return
      }
      case 'message':
        this.messageIn(f.value)
        return
      case 'standbyParked': {
        this.notices?.parked(f.value.worldId, f.value.playerId, from)
        return
      }
      case 'standbyReleased': {
        this.deps.releaseStandby?.(f.value.worldId, f.value.playerId, from)
        return
      }
      case 'relayClosed': {
        const { to, entityId, playerId } = f.value
        if (!to) return
        const k = key(to.worldId, entityId)
        this.relayedBy.delete(k)
        const r = this.runnerOwning(to.worldId, entityId)
        // A player that meanwhile connected here directly stays.
        if (r && !r.hasPlayer(playerId)) r.sim.removePlayer(playerId)
        const o = this.outs.get(k)
        if (!r && o) {
          // It moved on from here: the news follows it.
          if (o.phase.phase === 'offering') o.closed = true
          else if (o.phase.phase === 'forwarding') this.send(o.peer, { frame: { $case: 'relayClosed', value: { to: o.phase.to, entityId, playerId } } })
          if (o.phase.phase !== 'offering') this.dropOut(k)
        }
        return
      }
      case 'relayMoved': {
        // The entity of a player we relay moved on from the worker we forward to.
        const { to, entityId, playerId, ownerWorkerId, clientUrl, ticket } = f.value
        if (!to || !ownerWorkerId) return
        const o = this.outs.get(key(to.worldId, entityId))
        if (!o || o.playerId !== playerId || o.phase.phase !== 'forwarding') return
        o.peer = ownerWorkerId
        o.phase = { ...o.phase, to }
        const r = this.runnerByKey(o.runnerKey)
        if (ticket && clientUrl && r?.sim.isRelay(playerId)) orderMove(r, o, clientUrl, ticket, to.worldId)
        return
      }
      case 'hello':
        return
    }
  }

  /**
   * A game message for an entity of ours: delivered to the runner simulating it (at its next
   * step), or sent on after it when it left (held with its offer until the answer, forwarded to
   * where it went), as its inputs are. Messages for an entity gone from here for good are dropped,
   * and so is one whose payload the game cannot decode (reported to the runner's faults).
   */
  private messageIn(m: EntityMessage): void {
    if (!m.target) return
    const { worldId } = m.target
    const r = this.runnerOwning(worldId, m.toEntity)
    if (r) {
      // One the game cannot decode is dropped alone (the frame handler goes on with the rest).
      let payload: unknown
      try {
        payload = gameCodecs(r.options.game).message.decode(m.payload)
      } catch (err) {
        this.stats.messagesDropped++
        r.faults.report(err, 'codec', m.toEntity)
        return
      }
      r.sim.deliverMessage(m.fromEntity, m.toEntity, payload)
      return
    }
    const o = this.outs.get(key(worldId, m.toEntity))
    if (o?.phase.phase === 'offering' && o.messages.length < MAX_HELD_MESSAGES) o.messages.push(m)
    else if (o?.phase.phase === 'forwarding') {
      this.stats.forwardedMessages++
      this.send(o.peer, { frame: { $case: 'message', value: { ...m, target: o.phase.to } } })
    } else this.stats.messagesDropped++
  }

  /** Per runner, its entities out on offer, as of the last tick boundary (one pass over every record, not one per runner). */
  private indexHeld(): void {
    this.held.clear()
    this.bridges.clear()
    for (const o of this.outs.values()) {
      if (o.bridge) {
        // Until the new owner's ghost of it is here (or the bridge has run its course).
        if (o.phase.phase !== 'forwarding' || this.tick > o.bridge.until || this.ghosts.sourceOf(o.worldId, o.entityId)) o.bridge = undefined
        else pushTo(this.bridges, o.runnerKey, o.bridge)
      }
      if (o.held) pushTo(this.held, o.runnerKey, { entity: o.held.entity, lastInputSeq: o.held.session?.lastAppliedSeq })
    }
  }

  /** A runner's entities out on offer, with their player's last applied input when it left with them. */
  private heldBy(runnerKey: string): readonly HeldEntity[] {
    return this.held.get(runnerKey) ?? NONE_HELD
  }

  /** Whether this worker keeps a record of an entity that left one of its partitions (it can send messages on after it). */
  private follows(worldId: string, id: number): boolean {
    const o = this.outs.get(key(worldId, id))
    return o !== undefined && (o.phase.phase === 'offering' || o.phase.phase === 'forwarding')
  }

  // ── plumbing ────────────────────────────────────────────────────────────────────────────────

  /** Forget an entity's sending-side record and its offer ids. */
  private dropOut(k: string): void {
    const o = this.outs.get(k)
    if (!o) return
    for (const id of o.handoffIds) this.byHandoff.delete(id)
    this.outs.delete(k)
  }

  private send(peer: string, frame: NeighbourFrame): void {
    if (peer === this.deps.workerId) this.inbox.push({ from: peer, frame })
    else if (peer) this.deps.sendRemote(peer, frame)
  }

  private runnerByKey(k: string): AnyRunner | undefined {
    for (const r of this.deps.runners()) if (r.key === k) return r
    return undefined
  }

  private anyRunner(worldId: string): AnyRunner | undefined {
    for (const r of this.deps.runners()) if (r.options.worldId === worldId) return r
    return undefined
  }

  /** The runner of ours simulating entity `id` of a world, if any. */
  runnerOwning(worldId: string, id: number): AnyRunner | undefined {
    for (const r of this.deps.runners()) if (r.options.worldId === worldId && r.sim.entity(id) !== undefined) return r
    return undefined
  }
}
