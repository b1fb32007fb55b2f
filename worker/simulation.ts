/**
 * One partition's (or room's) simulation, pure: no sockets, no timers. The shell calls `step()` once
 * per tick, feeds decoded inputs and acks in between, and asks for each player's snapshot bytes.
 *
 * Order within a tick: messages sent last tick are delivered, players' inputs are applied (in
 * sequence order, exactly once), the game ticks, despawns happen, then the world is quantised once
 * and the interest index rebuilt — the basis of every snapshot of this tick and of the game's
 * `nearby` queries next tick.
 */
import { BitWriter } from '../core/wire/bits.ts'
import { dequantizeAxis } from '../core/wire/input-codec.ts'
import type { InputPacket, InputRecord } from '../core/wire/input-codec.ts'
import { SnapshotEncoder } from '../core/wire/snapshot-codec.ts'
import { DEFAULT_SNAPSHOT_HISTORY, SnapshotRing } from '../core/wire/snapshot-ring.ts'
import { SeededRng } from './game/rng.ts'
import type { Entity, EntityId, Game, Rect, SpawnSpec } from './game/types.ts'
import { SimContext } from './game-context.ts'
import { GameFaults } from './game-faults.ts'
import { InputQueue } from './input-queue.ts'
import type { InputQueueStats } from './input-queue.ts'
import { densityRects } from './load-summary.ts'
import type { LoadRect } from './load-summary.ts'
import { WorldView } from './world-view.ts'
import type { Ghost } from './world-view.ts'

/** Where a simulation's new entity ids come from (see `worker/entity-ids.ts`). */
export interface EntityIdSource {
  /** The next id, or undefined when none can be had now. */
  next(): number | undefined
}

/** No entity id could be had: the world's id blocks ran out and the cluster store has not answered. */
export class EntityIdsUnavailable extends Error {
  constructor() {
    super('no entity id available: the cluster store has not answered a request for more')
    this.name = 'EntityIdsUnavailable'
  }
}

export interface SimulationOptions<S, M> {
  game: Game<S, M>
  /** Seed of the game's RNG: same seed and inputs, same run. */
  seed: number
  /** The area simulated (spawn area, load summary grid). */
  bounds: Rect
  /** The whole world, where entities may walk (the game's `worldBounds`); default `bounds`. */
  worldBounds?: Rect
  /** Ticks per second (default 20). */
  tickRate?: number
  /** Area-of-interest radius in world units (default 100). */
  interestRadius?: number
  /** Pending inputs per player at most (default 32). */
  maxPendingInputs?: number
  /** Snapshots kept per player as delta baselines (default 32; clients must keep as many). */
  snapshotHistory?: number
  /**
   * Where new entity ids come from when they must be unique across a world's partitions (a
   * worker's `BlockIdSource`). Without it the simulation numbers its own entities from
   * `firstEntityId` (rooms, and tests).
   */
  ids?: EntityIdSource
  /** First entity id handed out when there is no `ids` source (default 1). */
  firstEntityId?: number
  /**
   * How many ids from `firstEntityId` on are this simulation's to hand out (default 100,000). Ids
   * beyond belong to other partitions: importing one never moves this simulation's numbering there.
   */
  entityIdRange?: number
  /** Number of the first tick (default 0). */
  startTick?: number
  /** Monotonic ms, for the tick cost statistics only (default `performance.now`). */
  now?: () => number
  /**
   * Where errors of game code the simulation contains (`wire`, `leave`) are reported; errors of
   * `tick`, `input` and `message` leave `step()` for the caller. Default: counted only.
   */
  faults?: GameFaults
}

export interface SimulationStats {
  /** Last tick simulated (-1 before the first). */
  tick: number
  entities: number
  players: number
  /** Cost of the last `step()` in ms. */
  stepMs: number
  /** Cost of building snapshots since the last step, in ms. */
  snapshotMs: number
  /** Snapshot bytes built since the last step, and their count. */
  snapshotBytes: number
  snapshots: number
  bytesTotal: number
  inputs: InputQueueStats
  /** Messages addressed to entities not in this simulation (to forward across borders). */
  outboundMessages: number
}

interface Session {
  playerId: string
  entityId: EntityId
  queue: InputQueue
  ring: SnapshotRing
  /** Last snapshot tick the client applied. */
  ackedTick: number | null
  /**
   * Set while the player's entity is simulated elsewhere but its connection is still here: its
   * snapshots are built around the entity's ghost and acknowledge the owner's last applied input.
   */
  relay: boolean
}

/** A player's session as it travels with its entity. */
export interface SessionExport {
  playerId: string
  /** Highest input sequence number applied. */
  lastAppliedSeq: number
  /** Received, not yet applied, in sequence order. */
  pending: InputRecord[]
  /** Last snapshot tick the client acknowledged (meaningful only with `ring`). */
  ackedTick: number | null
  /** In-process moves only: the delta baselines, so the client's snapshot stream just continues. */
  ring?: SnapshotRing
}

/** An entity leaving this simulation with everything needed to continue it elsewhere. */
export interface EntityExport<S> {
  entity: Entity<S>
  session: SessionExport | null
}

interface Envelope<M> {
  from: EntityId
  to: EntityId
  payload: M
}

export type { Ghost } from './world-view.ts'

/** Default size of a simulation's own id range. */
const DEFAULT_ID_RANGE = 100_000

/** Default interest radius in world units. */
export const DEFAULT_INTEREST_RADIUS = 100

export class Simulation<S, M = never> {
  private readonly game: Game<S, M>
  private readonly entities = new Map<EntityId, Entity<S>>()
  private readonly sessions = new Map<string, Session>()
  private readonly bounds: Rect
  private readonly dt: number
  private readonly radius: number
  private readonly maxPending: number
  private readonly history: number
  private readonly now: () => number
  private readonly rng: SeededRng
  private readonly ctx: SimContext<S, M>
  private readonly ids: EntityIdSource | undefined
  private readonly faults: GameFaults
  private nextId = 1
  /** One past the last id this simulation may hand out. */
  private readonly idLimit: number
  private nextTick: number
  private inbox: Envelope<M>[] = []
  private outbox: Envelope<M>[] = []
  private outbound: Envelope<M>[] = []
  private despawns: EntityId[] = []
  /**
   * Entities handed here by a worker that had already stepped them at a tick number this one has
   * yet to run (its tick comes earlier in the interval), with that number. They sit out this
   * simulation's steps up to it: the game never steps an entity twice under one number.
   */
  private readonly steppedThrough = new Map<EntityId, number>()

  /** Quantised rows, their entities and the interest index, rebuilt at the end of each step. */
  private readonly view: WorldView<S>
  private readonly arena = new BitWriter(64 * 1024)
  private readonly encoder = new SnapshotEncoder()
  private readonly counters = { stepMs: 0, snapshotMs: 0, snapshotBytes: 0, snapshots: 0, bytesTotal: 0 }
  private readonly retiredInputs: InputQueueStats = { applied: 0, duplicates: 0, dropped: 0, lost: 0 }

  constructor(options: SimulationOptions<S, M>) {
    this.game = options.game
    this.bounds = { ...options.bounds }
    this.dt = 1 / (options.tickRate ?? 20)
    this.radius = options.interestRadius ?? DEFAULT_INTEREST_RADIUS
    this.maxPending = options.maxPendingInputs ?? 32
    this.history = options.snapshotHistory ?? DEFAULT_SNAPSHOT_HISTORY
    this.nextTick = options.startTick ?? 0
    this.ids = options.ids
    this.nextId = options.firstEntityId ?? 1
    this.idLimit = this.nextId + (options.entityIdRange ?? DEFAULT_ID_RANGE)
    this.now = options.now ?? (() => performance.now())
    this.rng = new SeededRng(options.seed)
    this.faults = options.faults ?? new GameFaults()
    this.view = new WorldView<S>(this.game, Math.max(8, this.radius), this.faults)
    this.ctx = this.makeContext(options.worldBounds ?? this.bounds)
  }

  /** Last tick simulated; -1 before the first `step()` (with the default start tick). */
  get tick(): number {
    return this.nextTick - 1
  }

  get entityCount(): number {
    return this.entities.size
  }

  entity(id: EntityId): Readonly<Entity<S>> | undefined {
    return this.entities.get(id)
  }

  allEntities(): IterableIterator<Readonly<Entity<S>>> {
    return this.entities.values()
  }

  /** The entity a joined player drives. */
  playerEntity(playerId: string): EntityId | undefined {
    return this.sessions.get(playerId)?.entityId
  }

  /** Add a player (spawning its entity) and return the entity id; an existing player keeps its entity. */
  addPlayer(playerId: string, at?: { x: number; y: number }): EntityId {
    const existing = this.sessions.get(playerId)
    if (existing !== undefined) return existing.entityId
    const spec: SpawnSpec = { type: 'player', playerId, ...at }
    const id = this.create(spec, 'player', playerId)
    this.sessions.set(playerId, {
      playerId,
      entityId: id,
      queue: new InputQueue({ maxPending: this.maxPending }),
      ring: new SnapshotRing(this.history),
      ackedTick: null,
      relay: false,
    })
    return id
  }

  /** Remove a player and its entity. False if unknown. */
  removePlayer(playerId: string): boolean {
    const s = this.sessions.get(playerId)
    if (s === undefined) return false
    const e = this.entities.get(s.entityId)
    if (e !== undefined) {
      // Game code may throw: the player is removed all the same, not left half-removed.
      try {
        this.game.leave(this.ctx, e)
      } catch (err) {
        this.faults.report(err, 'leave', e.id)
      }
      this.entities.delete(s.entityId)
    }
    this.retire(s)
    this.sessions.delete(playerId)
    return true
  }

  private retire(s: Session): void {
    const st = s.queue.stats
    this.retiredInputs.applied += st.applied
    this.retiredInputs.duplicates += st.duplicates
    this.retiredInputs.dropped += st.dropped
    this.retiredInputs.lost += st.lost
  }

  /**
   * Take an entity out to continue it elsewhere: no `leave` (it is not leaving the world), its
   * pending inputs and session go with it. With `relay`, a player's session stays as a relay (its
   * connection is still here; see `Session.relay`).
   */
  exportEntity(id: EntityId, options: { relay?: boolean } = {}): EntityExport<S> | undefined {
    const e = this.entities.get(id)
    if (e === undefined) return undefined
    this.entities.delete(id)
    this.steppedThrough.delete(id)
    const s = e.playerId === null ? undefined : this.sessions.get(e.playerId)
    let session: SessionExport | null = null
    if (s !== undefined && !s.relay) {
      session = { playerId: s.playerId, lastAppliedSeq: s.queue.lastApplied, pending: s.queue.takePending(), ackedTick: s.ackedTick, ring: s.ring }
      this.retire(s)
      if (options.relay === true) {
        s.relay = true
        s.queue = new InputQueue({ maxPending: this.maxPending, lastApplied: session.lastAppliedSeq })
      } else {
        this.sessions.delete(s.playerId)
      }
    }
    return { entity: { ...e }, session }
  }

  /**
   * Continue an entity exported elsewhere, keeping its id and its player's input sequence. A relay
   * session for the same player (the entity comes back) becomes its session again. False when the
   * id is taken.
   *
   * `steppedThrough` is the last tick the exporter stepped it at. When this simulation has yet to
   * run that number (the exporter's tick comes earlier in the interval), the entity sits out the
   * steps up to it: left out of the game's `ctx.entities()` and its inputs kept for later, while
   * shown in snapshots as it came. It is stepped from the next number on.
   */
  importEntity(x: EntityExport<S>, steppedThrough?: number): boolean {
    if (this.entities.has(x.entity.id)) return false
    this.entities.set(x.entity.id, { ...x.entity })
    if (steppedThrough !== undefined && steppedThrough >= this.nextTick) this.steppedThrough.set(x.entity.id, steppedThrough)
    const sx = x.session
    if (sx !== null) {
      const existing = this.sessions.get(sx.playerId)
      const queue = new InputQueue({ maxPending: this.maxPending, lastApplied: sx.lastAppliedSeq })
      queue.receive(sx.pending)
      if (existing !== undefined && existing.relay) {
        // Inputs relayed here meanwhile went to the owner; anything newer still waiting stays.
        queue.receive(existing.queue.takePending())
        existing.entityId = x.entity.id
        existing.queue = queue
        existing.relay = false
      } else {
        const ring = sx.ring ?? new SnapshotRing(this.history)
        this.sessions.set(sx.playerId, { playerId: sx.playerId, entityId: x.entity.id, queue, ring, ackedTick: sx.ring ? sx.ackedTick : null, relay: false })
      }
    }
    // An id of our own range coming back (handed out here, or by this partition's previous owner)
    // must not be handed out again. Ids of other ranges are theirs to hand out: following one would
    // give our next entity an id that partition hands out too.
    if (x.entity.id >= this.nextId && x.entity.id < this.idLimit) this.nextId = x.entity.id + 1
    return true
  }

  /** The player's entity is simulated elsewhere; this side only relays (see `Session.relay`). */
  isRelay(playerId: string): boolean {
    return this.sessions.get(playerId)?.relay === true
  }

  /** Pending inputs of an entity's player that arrived while it was being offered (to forward). */
  takePendingInputs(playerId: string): InputRecord[] {
    return this.sessions.get(playerId)?.queue.takePending() ?? []
  }

  spawnNpc(spec: { x?: number; y?: number } = {}): EntityId {
    return this.create({ type: 'npc', ...spec }, 'npc', null)
  }

  /**
   * Replace the ghosts (entities of neighbouring partitions near the border). They enter the
   * interest index and snapshots from the end of the next `step()`. Of several with one id, the
   * first given counts.
   */
  setGhosts(ghosts: readonly Ghost[]): void {
    this.view.setGhosts(ghosts)
  }

  /** The ghosts as of the last step, in id order. */
  ghosts(): readonly Ghost[] {
    return this.view.currentGhosts()
  }

  /** Take in a decoded INPUT packet: queues its inputs and records its snapshot ack. */
  receiveInput(playerId: string, packet: InputPacket): boolean {
    const s = this.sessions.get(playerId)
    if (s === undefined) return false
    s.queue.receive(packet.inputs)
    if (packet.ackTick !== null) this.acknowledge(playerId, packet.ackTick)
    return true
  }

  /** The client applied the snapshot of `tick`: deltas may be based on it. */
  acknowledge(playerId: string, tick: number): void {
    const s = this.sessions.get(playerId)
    // Acks only move forward and only for ticks we sent; anything else is ignored, not trusted.
    if (s === undefined || tick >= this.nextTick || (s.ackedTick !== null && tick <= s.ackedTick)) return
    if (s.ring.get(tick) !== undefined) s.ackedTick = tick
  }

  /** Highest input sequence applied for a player (what snapshots acknowledge). */
  lastInputSeq(playerId: string): number {
    return this.sessions.get(playerId)?.queue.lastApplied ?? 0
  }

  /**
   * Simulate one tick: the next one, or `tick` when that is later (the worker's loop dropped ticks
   * it could not run in time; their numbers are skipped, so tick numbers stay on the cluster's
   * clock). Snapshot bytes from the previous tick become invalid.
   */
  step(tick: number = this.nextTick): void {
    const t0 = this.now()
    if (tick < this.nextTick) tick = this.nextTick
    this.ctx.tick = tick
    this.arena.reset()
    this.counters.snapshotBytes = 0
    this.counters.snapshots = 0
    this.counters.snapshotMs = 0

    const inbox = this.outbox
    this.outbox = this.inbox
    this.inbox = inbox
    // Game code may throw: the step still ends (despawns, the interest index, the tick number),
    // so the partition stays consistent and goes on; the error goes to the caller.
    try {
      for (const m of inbox) {
        const to = this.entities.get(m.to)
        if (to !== undefined) this.game.message(this.ctx, m.from, to, m.payload)
        // It left since (handed to another partition): the border sends the message after it.
        else this.outbound.push(m)
      }

      for (const s of this.sessions.values()) {
        const e = this.entities.get(s.entityId)
        if (e === undefined || this.sitsOut(e.id, tick)) continue
        s.queue.drain(tick, (input) => {
          this.game.input(this.ctx, e, {
            seq: input.seq,
            tick: input.tick,
            moveX: dequantizeAxis(input.moveX),
            moveY: dequantizeAxis(input.moveY),
            buttons: input.buttons,
          })
        })
      }

      this.game.tick(this.ctx, this.dt)
    } finally {
      inbox.length = 0
      for (const id of this.despawns) {
        const e = this.entities.get(id)
        if (e !== undefined && e.control === 'npc') this.entities.delete(id)
      }
      this.despawns.length = 0
      for (const [id, last] of this.steppedThrough) if (last <= tick) this.steppedThrough.delete(id)
      this.view.rebuild(this.entities.values())
      this.nextTick = tick + 1
      this.ctx.tick = this.nextTick
      this.counters.stepMs = this.now() - t0
    }
  }

  /**
   * The SNAPSHOT datagram for one player at the last simulated tick (null if unknown or before the
   * first step). The bytes are a view valid until the next `step()`; send or copy them before.
   */
  buildSnapshot(playerId: string): Uint8Array | null {
    const s = this.sessions.get(playerId)
    const tick = this.nextTick - 1
    if (s === undefined || tick < 0) return null
    const me = s.relay ? this.view.ghost(s.entityId) : this.entities.get(s.entityId)
    // An entity that arrived since the last step is not in that step's view: a snapshot without the
    // player's own entity would make a client that starts its view afresh (a switch) remove it.
    if (me === undefined || (!s.relay && !this.view.shows(s.entityId))) return null
    const ackInputSeq = s.relay ? (this.view.ghost(s.entityId)?.lastInputSeq ?? s.queue.lastApplied) : s.queue.lastApplied
    const t0 = this.now()
    const table = s.ring.claim(tick)
    this.view.visible(me.x, me.y, this.radius, table)
    const acked = s.ackedTick
    const baseline = acked !== null && acked < tick && tick - acked < s.ring.size ? (s.ring.get(acked) ?? null) : null
    const bytes = this.encoder.encode(
      this.arena,
      { tick, baseTick: baseline === null ? null : acked, ackInputSeq },
      table,
      baseline,
    )
    this.counters.snapshotBytes += bytes.length
    this.counters.bytesTotal += bytes.length
    this.counters.snapshots++
    this.counters.snapshotMs += this.now() - t0
    return bytes
  }

  /** Build every player's snapshot for the last tick and hand each to `send`. */
  buildSnapshots(send: (playerId: string, bytes: Uint8Array) => void): void {
    for (const playerId of this.sessions.keys()) {
      const bytes = this.buildSnapshot(playerId)
      if (bytes !== null) send(playerId, bytes)
    }
  }

  /** A message from an entity elsewhere (a neighbour's), delivered at the next step. False if `to` is not here. */
  deliverMessage(from: EntityId, to: EntityId, payload: M): boolean {
    if (!this.entities.has(to)) return false
    this.outbox.push({ from, to, payload })
    return true
  }

  /** Messages for entities not here (sent to one, or it left before delivery), since the last call (for the border). */
  takeOutboundMessages(): { from: EntityId; to: EntityId; payload: M }[] {
    const out = this.outbound
    this.outbound = []
    return out
  }

  stats(): SimulationStats {
    const inputs = { ...this.retiredInputs }
    for (const s of this.sessions.values()) {
      inputs.applied += s.queue.stats.applied
      inputs.duplicates += s.queue.stats.duplicates
      inputs.dropped += s.queue.stats.dropped
      inputs.lost += s.queue.stats.lost
    }
    return {
      tick: this.tick,
      entities: this.entities.size,
      players: this.sessions.size,
      ...this.counters,
      inputs,
      outboundMessages: this.outbound.length,
    }
  }

  /**
   * Entity density as up to `maxRects` (≤ 64) weighted rectangles; players weigh `playerWeight`
   * (default 2: they cost a snapshot each on top of their simulation).
   */
  loadSummary(maxRects = 64, playerWeight = 2): LoadRect[] {
    const n = this.entities.size
    const xs = new Float64Array(n)
    const ys = new Float64Array(n)
    const ws = new Float64Array(n)
    let i = 0
    for (const e of this.entities.values()) {
      xs[i] = e.x
      ys[i] = e.y
      ws[i] = e.control === 'player' ? playerWeight : 1
      i++
    }
    return densityRects(xs, ys, ws, n, this.bounds, maxRects)
  }

  private create(spec: SpawnSpec, control: 'player' | 'npc', playerId: string | null): EntityId {
    const id = this.ids ? this.ids.next() : this.nextId++
    if (id === undefined) throw new EntityIdsUnavailable()
    const init = this.game.spawn(this.ctx, spec)
    this.entities.set(id, {
      id,
      control,
      playerId,
      x: init.x,
      y: init.y,
      vx: 0,
      vy: 0,
      heading: init.heading ?? 0,
      radius: init.radius ?? 0.5,
      state: init.state,
    })
    return id
  }

  /** Whether entity `id` sits out the step of `tick` (it was stepped at that number elsewhere). */
  private sitsOut(id: EntityId, tick: number): boolean {
    // Asked for every player every step; nearly always nobody is sitting out.
    if (this.steppedThrough.size === 0) return false
    const last = this.steppedThrough.get(id)
    return last !== undefined && last >= tick
  }

  /** The entities the game steps this tick: all of them but those sitting it out. */
  private *stepping(): Generator<Entity<S>> {
    const tick = this.ctx.tick
    for (const e of this.entities.values()) if (!this.sitsOut(e.id, tick)) yield e
  }

  private makeContext(worldBounds: Rect): SimContext<S, M> {
    return new SimContext<S, M>(this.dt, this.rng, this.bounds, this.nextTick, {
      ghosts: () => this.view.currentGhosts(),
      entities: () => (this.steppedThrough.size === 0 ? this.entities.values() : this.stepping()),
      get: (id) => this.entities.get(id),
      nearby: (x, y, r, out) => {
        this.view.nearby(x, y, r, out)
        // Entities removed since the index was built are not offered.
        let w = 0
        for (const e of out) if (this.entities.get(e.id) === e) out[w++] = e
        out.length = w
        return out
      },
      send: (from, to, payload) => {
        if (this.entities.has(to)) this.outbox.push({ from, to, payload })
        else this.outbound.push({ from, to, payload })
      },
      spawnNpc: (spec = {}) => this.spawnNpc(spec),
      despawn: (id) => {
        this.despawns.push(id)
      },
    }, worldBounds)
  }
}
