/**
 * One partition (or room) this worker owns at one epoch: its simulation, its players' links, and
 * its share of the load report. The worker's tick loop calls `tick()`; everything else reacts to
 * connections and maps.
 */
import type { Rect } from '../core/geometry.ts'
import type { Logger } from '../core/log.ts'
import type { TicketClaims } from '../core/tickets.ts'
import { Protocol } from '../core/wire/protocol.ts'
import type { PartitionLoad } from '../proto/gen/tessera/v1/coordinator.ts'
import type { EntityId, Game } from './game/types.ts'
import { GameFaults } from './game-faults.ts'
import { PlayerLink, refusePlayer } from './player-link.ts'
import { EntityIdsUnavailable, Simulation } from './simulation.ts'
import type { EntityIdSource } from './simulation.ts'
import type { ClientConnection } from './transport/geckos-server.ts'
import type { InputPacket } from '../core/wire/input-codec.ts'
import type { ControlMessage } from '../core/wire/control-messages.ts'

/** What the border machinery (ghosts, handoffs) hears from a runner. */
export interface RunnerBorder {
  /** Input from a player this runner only relays (its entity lives elsewhere, or is being offered). */
  relayInput(runner: PartitionRunner<never, never>, playerId: string, packet: InputPacket): void
  /** A relayed player closed its connection here. */
  relayClosed(runner: PartitionRunner<never, never>, playerId: string, entityId: number): void
  /** Whether another worker still holds a connection of this entity's player and relays it here. */
  relayedElsewhere(worldId: string, entityId: number): boolean
}

/**
 * A player's connection as it may move between this worker's runners: the link's events go to
 * whichever runner holds the binding now.
 */
export interface PlayerBinding {
  link: PlayerLink
  claims: TicketClaims
  runner: PartitionRunner<unknown, unknown>
  /** Its client said it opens no standby connections (`no-standby`). */
  noStandby?: boolean
}

export interface PartitionRunnerOptions<S, M> {
  worldId: string
  partitionId: string
  epoch: number
  kind: 'world' | 'room'
  rect: Rect
  worldBounds: Rect
  /** Rooms: players admitted at most (the gateway's seats guard this too). */
  maxPlayers: number | undefined
  game: Game<S, M>
  seed: number
  tickRate: number
  interestRadius: number
  /** NPC walkers spawned when the partition starts. */
  npcs: number
  logger: Logger
  /** Called when a player joins or leaves (sessions, seats). */
  onPlayer?: (event: 'joined' | 'left', claims: TicketClaims) => void
  now?: () => number
  /** Number of the first tick (default 0): a worker's runners share tick numbers. */
  startTick?: number
  /** Ghosts and handoffs; without it the runner is an island (rooms). */
  border?: RunnerBorder
  /**
   * Entity ids unique across the world (its partitions cross-hand entities). Without it the
   * runner numbers its own from 1 (a room: one partition, no handoffs).
   */
  ids?: EntityIdSource
}

export class PartitionRunner<S, M> {
  readonly sim: Simulation<S, M>
  private readonly links = new Map<string, PlayerBinding>()
  /**
   * Set when the map gave the partition to another worker: the runner keeps running while it hands
   * its entities to the successor (performance.now() when that began).
   */
  retiringSince: number | undefined
  private readonly now: () => number
  private malformed = 0
  /** The last reported cost (ms/s), repeated when no tick ran since. */
  private lastCost = 0
  private readonly tickTimes: number[] = []
  /** Tick work since the last load report: what the report's cost is made of. */
  private tickMsSinceReport = 0
  private ticksSinceReport = 0
  private bytesSinceReport = 0
  private lastReportAt: number
  private stopped = false
  /** Game code of this partition that threw: its ticks, its entities' `wire`, its state and message codecs, its players' `leave`. */
  readonly faults: GameFaults

  constructor(readonly options: PartitionRunnerOptions<S, M>) {
    this.now = options.now ?? (() => performance.now())
    this.lastReportAt = this.now()
    this.faults = new GameFaults(options.logger, this.key)
    this.sim = new Simulation<S, M>({
      faults: this.faults,
      game: options.game,
      seed: options.seed,
      bounds: options.rect,
      tickRate: options.tickRate,
      interestRadius: options.interestRadius,
      ...(options.ids ? { ids: options.ids } : {}),
      worldBounds: options.worldBounds,
      ...(options.startTick !== undefined ? { startTick: options.startTick } : {}),
    })
    try {
      for (let i = 0; i < options.npcs; i++) this.sim.spawnNpc()
    } catch (err) {
      // Out of entity ids (the store out of reach), or the game's `spawn` threw: start with fewer
      // NPCs rather than not at all.
      const why = err instanceof EntityIdsUnavailable ? 'no entity ids available' : 'the game could not spawn one'
      if (!(err instanceof EntityIdsUnavailable)) this.faults.report(err, 'spawn')
      options.logger.warn({ err, partition: this.key, spawned: this.sim.entityCount, wanted: options.npcs }, `partition started with fewer NPCs: ${why}`)
    }
  }

  get key(): string {
    return `${this.options.worldId}:${this.options.partitionId}`
  }

  /** Calls into this partition's game code that threw (see `faults`). */
  get gameErrors(): number {
    return this.faults.count
  }

  get players(): number {
    return this.links.size
  }

  hasPlayer(playerId: string): boolean {
    return this.links.has(playerId)
  }

  /** Whether the player's client said it opens no standby connections (`no-standby`). */
  opensNoStandby(playerId: string): boolean {
    return this.links.get(playerId)?.noStandby === true
  }

  /** Players whose connections this runner holds (its own, and those it relays). */
  playerIds(): IterableIterator<string> {
    return this.links.keys()
  }

  get retiring(): boolean {
    return this.retiringSince !== undefined
  }

  get ref(): { worldId: string; partitionId: string; epoch: number } {
    return { worldId: this.options.worldId, partitionId: this.options.partitionId, epoch: this.options.epoch }
  }

  /** Take a player's connection off this runner without closing it (it moves to another runner here). */
  detachPlayer(playerId: string): PlayerBinding | undefined {
    const b = this.links.get(playerId)
    if (b) this.links.delete(playerId)
    return b
  }

  /** A connection moved here from another runner of this worker (its session was imported first). */
  attachPlayer(binding: PlayerBinding): void {
    binding.runner = this as PartitionRunner<unknown, unknown>
    this.links.set(binding.claims.playerId, binding)
  }

  /** Send a player connected here a control message (e.g. `migrate`). */
  sendControl(playerId: string, message: ControlMessage): void {
    this.links.get(playerId)?.link.sendControl(message, this.now())
  }

  /** A player's channel opened with a valid ticket for this partition. */
  addPlayer(conn: ClientConnection<TicketClaims>): void {
    const claims = conn.principal
    const nowMs = this.now()
    const { maxPlayers } = this.options
    const previous = this.links.get(claims.playerId)
    if (previous) {
      // The same player again (a reconnect, or a second tab): the newest connection wins.
      this.links.delete(claims.playerId)
      previous.link.end({ kind: 'kick', code: 'replaced', reason: 'connected again elsewhere' }, Protocol.closeCode.replaced, nowMs)
      this.sim.removePlayer(claims.playerId)
    } else if (maxPlayers !== undefined && this.links.size >= maxPlayers) {
      refusePlayer(conn, 'room_full', `${this.options.worldId} is full`, nowMs)
      return
    }
    // A player arriving with a ticket from a handoff finds its entity here already.
    let entityId = this.sim.playerEntity(claims.playerId)
    const arriving = entityId !== undefined
    if (entityId === undefined) {
      try {
        entityId = this.sim.addPlayer(claims.playerId)
      } catch (err) {
        // No id for its entity (the store out of reach), or the game's `spawn` threw: the player
        // is refused with a clear error; the partition and its other players go on.
        if (err instanceof EntityIdsUnavailable) refusePlayer(conn, 'internal', err.message, nowMs)
        else {
          this.faults.report(err, 'spawn')
          refusePlayer(conn, 'internal', 'the game could not spawn this player', nowMs)
        }
        return
      }
    }
    // The binding's runner changes when the player's entity moves to another partition of this
    // worker; every event goes to the runner holding it then.
    const binding = { claims, runner: this } as unknown as PlayerBinding
    const link = new PlayerLink(
      conn,
      {
        input: (packet) => binding.runner.playerInput(claims.playerId, packet),
        ack: (tick) => binding.runner.sim.acknowledge(claims.playerId, tick),
        malformed: () => binding.runner.malformed++,
        control: (message) => {
          if (message.kind === 'no-standby') binding.noStandby = true
        },
      },
      () => binding.runner.sim.tick,
    )
    binding.link = link
    this.links.set(claims.playerId, binding)
    conn.onClose(() => binding.runner.playerClosed(binding))
    link.sendControl(
      {
        kind: 'join-accepted',
        entityId,
        worldId: this.options.worldId,
        partition: this.options.kind === 'room' ? null : this.options.partitionId,
        tick: Math.max(0, this.sim.tick),
        tickRate: this.options.tickRate,
      },
      nowMs,
    )
    // A player whose entity is simulated here already (it switches here from the worker that
    // relayed it) gets the last tick's snapshot now, not at the next step: the other worker's
    // snapshots stop once it is connected here, and this worker's tick may be most of a tick away.
    // (A new player's entity, or one that arrived since the last step, a standby connection's for
    // one, is not in the last tick's view yet: it waits for the step.)
    if (arriving) {
      const first = this.sim.buildSnapshot(claims.playerId)
      if (first && link.sendSnapshot(first)) this.bytesSinceReport += first.length
    }
    this.options.onPlayer?.('joined', claims)
  }

  private playerInput(playerId: string, packet: InputPacket): void {
    if (this.sim.isRelay(playerId) || this.sim.playerEntity(playerId) === undefined) {
      if (packet.ackTick !== null) this.sim.acknowledge(playerId, packet.ackTick)
      this.options.border?.relayInput(this as unknown as PartitionRunner<never, never>, playerId, packet)
      return
    }
    this.sim.receiveInput(playerId, packet)
  }

  private playerClosed(binding: PlayerBinding): void {
    const { playerId } = binding.claims
    if (this.links.get(playerId) !== binding) return
    this.links.delete(playerId)
    const relayed = this.sim.isRelay(playerId)
    const entityId = this.sim.playerEntity(playerId)
    // Its client's older connection, on the worker that relays it, may still be open (this one, a
    // standby or a migration's, closed before the client switched, or before it let the old one
    // go): the player then plays on through the relay, and its entity goes when that one closes.
    const playsOn = !relayed && entityId !== undefined && this.options.border?.relayedElsewhere(this.options.worldId, entityId) === true
    if (!playsOn) {
      this.sim.removePlayer(playerId)
      if (relayed && entityId !== undefined) this.options.border?.relayClosed(this as unknown as PartitionRunner<never, never>, playerId, entityId)
    }
    this.options.onPlayer?.('left', binding.claims)
  }

  /**
   * One fixed step: simulate, then send every player its snapshot and due control frames. `tick` is
   * the worker's tick number (past the simulation's next one after ticks were dropped).
   */
  tick(tick?: number): void {
    if (this.stopped) return
    const started = this.now()
    try {
      this.sim.step(tick)
    } catch (err) {
      // The game threw: this partition loses the rest of that tick's game logic, nothing more.
      // The worker's other partitions, its borders and this partition's snapshots go on.
      this.faults.report(err, 'tick')
    }
    // A room has no neighbours: a message to an entity not in it goes nowhere.
    if (!this.options.border) this.sim.takeOutboundMessages()
    this.sim.buildSnapshots((playerId, bytes) => {
      const b = this.links.get(playerId)
      if (b && b.link.sendSnapshot(bytes)) this.bytesSinceReport += bytes.length
    })
    const nowMs = this.now()
    for (const b of this.links.values()) b.link.flush(nowMs)
    const ms = nowMs - started
    this.tickTimes.push(ms)
    if (this.tickTimes.length > 200) this.tickTimes.shift()
    this.tickMsSinceReport += ms
    this.ticksSinceReport++
  }

  /** The partition's load since the last call, for the coordinator. */
  load(overruns = 0): PartitionLoad {
    const nowMs = this.now()
    const seconds = Math.max(0.001, (nowMs - this.lastReportAt) / 1000)
    const times = [...this.tickTimes].sort((a, b) => a - b)
    const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? 0
    // ms of work per second of simulation: mean tick cost × ticks per second. The mean is of the
    // ticks since the last report only: a mean over the last 200 ticks (10 s at 20 Hz) made a crowd
    // show in the reports seconds after it formed, and the planner reacted that much later. Nor is
    // it smoothed here: the planner smooths every partition's figure (rising faster than falling),
    // and smoothing twice made the leader see a third of a step one report later.
    const mean = this.ticksSinceReport > 0 ? this.tickMsSinceReport / this.ticksSinceReport : this.lastCost / this.options.tickRate
    this.tickMsSinceReport = 0
    this.ticksSinceReport = 0
    const cost = mean * this.options.tickRate
    this.lastCost = cost
    const bytesOutPerS = Math.round(this.bytesSinceReport / seconds)
    this.bytesSinceReport = 0
    this.lastReportAt = nowMs
    const summary = this.sim.loadSummary(64)
    const total = summary.reduce((s, r) => s + r.weight, 0) || 1
    return {
      partition: { worldId: this.options.worldId, partitionId: this.options.partitionId, epoch: this.options.epoch },
      tickCostMs: cost,
      tickMsMean: mean,
      tickMsP99: p99,
      entities: this.sim.entityCount,
      clients: this.links.size,
      bytesOutPerS,
      // Weights scaled so they add up to the tick cost, as the contract says.
      summary: summary.map(({ weight, ...rect }) => ({ rect, weight: (weight / total) * cost })),
      overruns,
      tick: Math.max(0, this.sim.tick),
      bounds: this.options.rect,
      worldBounds: this.options.worldBounds,
      worldKind: this.options.kind,
    }
  }

  /**
   * Take an entity out of this partition for good, when it cannot be handed over: an NPC is
   * dropped; a player's connection is ended with `going_away`, so its client joins again (and gets
   * a fresh entity wherever the map sends it).
   */
  abandon(id: EntityId, reason: string): void {
    const e = this.sim.entity(id)
    if (!e) return
    if (e.playerId === null) {
      this.sim.exportEntity(id)
      return
    }
    const b = this.links.get(e.playerId)
    if (b) {
      this.links.delete(e.playerId)
      b.link.end({ kind: 'kick', code: 'going_away', reason }, Protocol.closeCode.going_away, this.now())
    }
    this.sim.removePlayer(e.playerId)
  }

  /** Stop simulating; tell every player why. */
  stop(reason: string): void {
    if (this.stopped) return
    this.stopped = true
    const nowMs = this.now()
    for (const b of this.links.values()) {
      b.link.end({ kind: 'kick', code: 'going_away', reason }, Protocol.closeCode.going_away, nowMs)
    }
    this.links.clear()
  }
}
