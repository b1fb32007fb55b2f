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
import type { Game } from './game/types.ts'
import { PlayerLink } from './player-link.ts'
import { Simulation } from './simulation.ts'
import type { ClientConnection } from './transport/geckos-server.ts'

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
}

/** Entity ids of one world's partitions must not collide (entities cross borders): a range each. */
const ENTITY_ID_RANGE = 100_000

export class PartitionRunner<S, M> {
  readonly sim: Simulation<S, M>
  private readonly links = new Map<string, PlayerLink>()
  private readonly now: () => number
  private malformed = 0
  private tickCostEwma = 0
  private readonly tickTimes: number[] = []
  private bytesSinceReport = 0
  private lastReportAt: number
  private stopped = false

  constructor(readonly options: PartitionRunnerOptions<S, M>) {
    this.now = options.now ?? (() => performance.now())
    this.lastReportAt = this.now()
    const n = Number(/^p(\d+)$/.exec(options.partitionId)?.[1] ?? 0)
    this.sim = new Simulation<S, M>({
      game: options.game,
      seed: options.seed,
      bounds: options.rect,
      tickRate: options.tickRate,
      interestRadius: options.interestRadius,
      firstEntityId: (n % 10_000) * ENTITY_ID_RANGE + 1,
    })
    for (let i = 0; i < options.npcs; i++) this.sim.spawnNpc()
  }

  get key(): string {
    return `${this.options.worldId}:${this.options.partitionId}`
  }

  get players(): number {
    return this.links.size
  }

  hasPlayer(playerId: string): boolean {
    return this.links.has(playerId)
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
      previous.end({ kind: 'kick', code: 'replaced', reason: 'connected again elsewhere' }, Protocol.closeCode.replaced, nowMs)
      this.sim.removePlayer(claims.playerId)
    } else if (maxPlayers !== undefined && this.links.size >= maxPlayers) {
      const link = new PlayerLink(conn, this.ignoreEvents(), () => this.sim.tick)
      link.end({ kind: 'error', code: 'room_full', message: `${this.options.worldId} is full` }, Protocol.closeCode.going_away, nowMs)
      return
    }
    const link = new PlayerLink(
      conn,
      {
        input: (packet) => {
          this.sim.receiveInput(claims.playerId, packet)
          if (packet.ackTick !== null) this.sim.acknowledge(claims.playerId, packet.ackTick)
        },
        ack: (tick) => this.sim.acknowledge(claims.playerId, tick),
        malformed: () => this.malformed++,
        control: () => undefined,
      },
      () => this.sim.tick,
    )
    this.links.set(claims.playerId, link)
    const entityId = this.sim.addPlayer(claims.playerId)
    conn.onClose(() => {
      if (this.links.get(claims.playerId) !== link) return
      this.links.delete(claims.playerId)
      this.sim.removePlayer(claims.playerId)
      this.options.onPlayer?.('left', claims)
    })
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
    this.options.onPlayer?.('joined', claims)
  }

  /** One fixed step: simulate, then send every player its snapshot and due control frames. */
  tick(): void {
    if (this.stopped) return
    const started = this.now()
    this.sim.step()
    this.sim.buildSnapshots((playerId, bytes) => {
      const link = this.links.get(playerId)
      if (link && link.sendSnapshot(bytes)) this.bytesSinceReport += bytes.length
    })
    const nowMs = this.now()
    for (const link of this.links.values()) link.flush(nowMs)
    const ms = nowMs - started
    this.tickTimes.push(ms)
    if (this.tickTimes.length > 200) this.tickTimes.shift()
  }

  /** The partition's load since the last call, for the coordinator. */
  load(overruns = 0): PartitionLoad {
    const nowMs = this.now()
    const seconds = Math.max(0.001, (nowMs - this.lastReportAt) / 1000)
    const times = [...this.tickTimes].sort((a, b) => a - b)
    const mean = times.reduce((s, t) => s + t, 0) / Math.max(1, times.length)
    const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? 0
    // ms of work per second of simulation: mean tick cost × ticks per second, smoothed.
    const cost = mean * this.options.tickRate
    this.tickCostEwma = this.tickCostEwma === 0 ? cost : 0.7 * this.tickCostEwma + 0.3 * cost
    const bytesOutPerS = Math.round(this.bytesSinceReport / seconds)
    this.bytesSinceReport = 0
    this.lastReportAt = nowMs
    const summary = this.sim.loadSummary(64)
    const total = summary.reduce((s, r) => s + r.weight, 0) || 1
    return {
      partition: { worldId: this.options.worldId, partitionId: this.options.partitionId, epoch: this.options.epoch },
      tickCostMs: this.tickCostEwma,
      tickMsMean: mean,
      tickMsP99: p99,
      entities: this.sim.entityCount,
      clients: this.links.size,
      bytesOutPerS,
      // Weights scaled so they add up to the tick cost, as the contract says.
      summary: summary.map(({ weight, ...rect }) => ({ rect, weight: (weight / total) * this.tickCostEwma })),
      overruns,
      tick: Math.max(0, this.sim.tick),
      bounds: this.options.rect,
      worldBounds: this.options.worldBounds,
      worldKind: this.options.kind,
    }
  }

  /** Stop simulating; tell every player why. */
  stop(reason: string): void {
    if (this.stopped) return
    this.stopped = true
    const nowMs = this.now()
    for (const link of this.links.values()) {
      link.end({ kind: 'kick', code: 'going_away', reason }, Protocol.closeCode.going_away, nowMs)
    }
    this.links.clear()
  }

  private ignoreEvents() {
    return { input: () => undefined, ack: () => undefined, malformed: () => undefined, control: () => undefined }
  }
}
