/**
 * A worker: registers under a lease, follows the partition maps, simulates every partition it owns
 * at a fixed tick, serves those partitions' players over the process's client transport, and
 * streams its load to the coordinator leader.
 *
 * Several workers may share one process (embedded mode): they share the one client transport, which
 * routes each player's channel to the worker named in the player's ticket.
 */
import type { FastifyInstance } from 'fastify'
import fastify from 'fastify'
import { Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { area } from '../core/geometry.ts'
import { startGrpcServer } from '../core/grpc.ts'
import type { RunningGrpcServer } from '../core/grpc.ts'
import { createMetricsRegistry, registerOps } from '../core/http/ops.ts'
import type { Logger } from '../core/log.ts'
import { decodeMap, leaves } from '../core/partition-map.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import { PrefixCache } from '../core/prefix-cache.ts'
import { decodeRecord, worldSpecSchema } from '../core/records.ts'
import type { WorldSpec } from '../core/records.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import type { TicketClaims } from '../core/tickets.ts'
import { Protocol } from '../core/wire/protocol.ts'
import { encodeControlMessage } from '../core/wire/control-messages.ts'
import { ControlStream } from '../core/wire/control-stream.ts'
import { encodeControlDatagram } from '../core/wire/messages.ts'
import type { Game } from './game/types.ts'
import { LoadReporter } from './load-reporter.ts'
import type { LoadSnapshot } from './load-reporter.ts'
import { Membership } from './membership.ts'
import type { WorkerOptions } from './options.ts'
import { PartitionRunner } from './partition-runner.ts'
import { TickLoop } from './tick-loop.ts'
import type { ClientConnection, ClientTransport } from './transport/geckos-server.ts'

export interface WorkerDeps<S, M> {
  store: ClusterStore
  keys: Keys
  options: WorkerOptions
  logger: Logger
  /** The process's client transport (shared by the workers of one process). */
  transport: ClientTransport<TicketClaims>
  /** The game to run in a world. */
  game: (spec: WorldSpec) => Game<S, M>
  /** Player joined or left one of this worker's partitions (sessions, seats). */
  onPlayer?: (event: 'joined' | 'left', claims: TicketClaims) => void
}

export class Worker<S = unknown, M = unknown> {
  readonly registry: Registry
  private readonly runners = new Map<string, PartitionRunner<S, M>>()
  private readonly orphanedAt = new Map<string, number>()
  private readonly maps: PrefixCache<PartitionMap>
  private readonly specs: PrefixCache<WorldSpec>
  private readonly tombstones: PrefixCache<true>
  private membership: Membership | undefined
  private readonly reporter: LoadReporter
  private readonly loop: TickLoop
  private grpc: RunningGrpcServer | undefined
  private ops: FastifyInstance | undefined
  private unroute: (() => void) | undefined
  private started = false
  private ticks = 0
  private stopped = false
  private cpuMark = process.cpuUsage()
  private cpuMarkAt = performance.now()
  private readonly gauges

  constructor(private readonly deps: WorkerDeps<S, M>) {
    const { store, keys, options, logger } = deps
    this.registry = createMetricsRegistry({ service: 'worker', node: options.id })
    this.maps = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfMap(key) === undefined ? undefined : decodeMap(value)),
    })
    this.specs = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfSpec(key) === undefined ? undefined : decodeRecord(worldSpecSchema, key, value)),
    })
    this.tombstones = new PrefixCache({ store, prefix: `${keys.prefix}tombstones/`, logger, decode: () => true })
    this.reporter = new LoadReporter({
      store, keys, workerId: options.id, intervalMs: options.reportIntervalMs, logger, collect: () => this.collectLoad(),
    })
    this.loop = new TickLoop({
      tickRate: options.tickRate,
      onTick: () => this.tick(),
      onError: (err) => logger.error({ err }, 'tick loop stopped by an error'),
    })
    this.gauges = {
      partitions: new Gauge({ name: 'tessera_worker_partitions', help: 'partitions simulated', registers: [this.registry] }),
      players: new Gauge({ name: 'tessera_worker_players', help: 'players connected', registers: [this.registry] }),
      entities: new Gauge({ name: 'tessera_worker_entities', help: 'entities simulated', registers: [this.registry] }),
      overruns: new Gauge({ name: 'tessera_worker_tick_overruns', help: 'ticks dropped because a tick ran late', registers: [this.registry] }),
    }
  }

  get id(): string {
    return this.deps.options.id
  }

  /** `world:partition` keys of the partitions this worker simulates now. */
  partitions(): string[] {
    return [...this.runners.keys()].sort()
  }

  runner(worldId: string, partitionId: string): PartitionRunner<S, M> | undefined {
    return this.runners.get(`${worldId}:${partitionId}`)
  }

  async start(): Promise<void> {
    const { options, transport, logger } = this.deps
    this.grpc = await startGrpcServer(options.grpcHost, options.grpcPort, [])
    this.ops = fastify({ logger: false })
    registerOps(this.ops, {
      registry: this.registry,
      ready: () => (this.started && !this.stopped ? { ok: true } : { ok: false, reason: this.stopped ? 'stopping' : 'starting' }),
    })
    await this.ops.listen({ host: options.grpcHost, port: options.opsPort })

    this.unroute = transport.route(options.id, { onConnect: (conn) => this.accept(conn) })
    const clientUrl = options.advertiseUrl ?? `${transport.url}:${transport.port}`
    const grpcAddress = options.advertiseGrpc ?? this.grpc.address
    this.membership = new Membership({
      store: this.deps.store, keys: this.deps.keys, logger, ttlSeconds: options.leaseTtlSeconds,
      record: {
        id: options.id, grpcAddress, clientUrl, capacity: options.capacity, version: '0.1.0',
        labels: options.labels, draining: false, startedAt: Date.now(),
        ...(options.region !== undefined ? { region: options.region } : {}),
      },
      onRejoin: () => this.reconcile(),
    })

    await Promise.all([this.maps.start(), this.specs.start(), this.tombstones.start()])
    const react = () => this.reconcile()
    this.maps.onChange(react)
    this.specs.onChange(react)
    this.tombstones.onChange(react)
    await this.membership.start()
    this.reconcile()
    this.loop.start()
    this.reporter.start()
    this.started = true
    logger.info({ clientUrl, grpcAddress }, 'worker started')
  }

  /** URLs of this worker, for logs and the ready line. */
  get addresses(): { clientUrl: string; grpc: string; ops: string } {
    const addr = this.ops?.server.address()
    const opsPort = typeof addr === 'object' && addr ? addr.port : 0
    return {
      clientUrl: this.deps.options.advertiseUrl ?? `${this.deps.transport.url}:${this.deps.transport.port}`,
      grpc: this.grpc?.address ?? '',
      ops: `http://${this.deps.options.grpcHost}:${opsPort}`,
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.loop.stop()
    await this.reporter.stop()
    for (const runner of this.runners.values()) runner.stop('the worker is shutting down')
    this.runners.clear()
    this.unroute?.()
    await Promise.all([this.maps.stop(), this.specs.stop(), this.tombstones.stop()])
    await this.membership?.stop()
    await this.grpc?.stop()
    await this.ops?.close()
  }

  /** Bring the set of runners in line with the maps: start what we own, stop what we no longer own. */
  private reconcile(): void {
    if (this.stopped) return
    const { options, logger } = this.deps
    const now = performance.now()
    const owned = new Map<string, { map: PartitionMap; spec: WorldSpec; leafId: string; epoch: number; rect: PartitionMap['bounds'] }>()
    for (const { value: map } of this.maps.values()) {
      const spec = this.specs.get(this.deps.keys.world(map.worldId))?.value
      if (!spec) continue
      for (const { leaf, rect } of leaves(map)) {
        if (leaf.owner === options.id) owned.set(`${map.worldId}:${leaf.id}`, { map, spec, leafId: leaf.id, epoch: leaf.epoch, rect })
      }
    }
    for (const [key, want] of owned) {
      this.orphanedAt.delete(key)
      const runner = this.runners.get(key)
      if (runner) {
        runner.options.epoch = want.epoch
        runner.options.rect = want.rect
        continue
      }
      const spec = want.spec
      const created = new PartitionRunner<S, M>({
        worldId: spec.id, partitionId: want.leafId, epoch: want.epoch, kind: spec.kind, rect: want.rect,
        worldBounds: spec.bounds, maxPlayers: spec.maxPlayers, game: this.deps.game(spec), seed: options.seed,
        tickRate: options.tickRate, interestRadius: options.interestRadius,
        // `npcs` is a world's population: each partition starts with its share by area.
        npcs: Math.round((options.npcs * area(want.rect)) / area(spec.bounds)),
        logger, ...(this.deps.onPlayer ? { onPlayer: this.deps.onPlayer } : {}),
      })
      this.runners.set(key, created)
      logger.info({ partition: key, epoch: want.epoch }, 'simulating partition')
    }
    for (const [key, runner] of this.runners) {
      if (owned.has(key)) continue
      const worldId = runner.options.worldId
      const mapGone = !this.maps.get(this.deps.keys.worldMap(worldId)) || !this.specs.get(this.deps.keys.world(worldId))
      const tombstoned = this.tombstones.get(this.deps.keys.tombstone(worldId)) !== undefined
      if (mapGone && !tombstoned) {
        // The store may have lost the map (a wipe): keep running and reporting so the leader can
        // rebuild it, but only for a while.
        const since = this.orphanedAt.get(key) ?? now
        this.orphanedAt.set(key, since)
        if (now - since < options.orphanGraceMs) continue
      }
      this.orphanedAt.delete(key)
      runner.stop(mapGone ? 'the world was closed' : 'the partition moved to another worker')
      this.runners.delete(key)
      logger.info({ partition: key, mapGone, tombstoned }, 'stopped simulating partition')
    }
    this.gauges.partitions.set(this.runners.size)
  }

  private accept(conn: ClientConnection<TicketClaims>): void {
    const claims = conn.principal
    const runner = claims.partitionId
      ? this.runners.get(`${claims.worldId}:${claims.partitionId}`)
      : [...this.runners.values()].find((r) => r.options.worldId === claims.worldId && r.options.kind === 'room')
    if (!runner) {
      refuse(conn, 'not_owner', `this worker does not simulate ${claims.worldId}${claims.partitionId ? `:${claims.partitionId}` : ''}`)
      return
    }
    runner.addPlayer(conn)
  }

  private tick(): void {
    // Runners are stepped together: one timer per worker, each partition measured on its own.
    for (const runner of this.runners.values()) runner.tick()
    if (++this.ticks % this.deps.options.tickRate === 0) this.updateGauges()
  }

  private updateGauges(): void {
    let players = 0
    let entities = 0
    for (const r of this.runners.values()) {
      players += r.players
      entities += r.sim.entityCount
    }
    this.gauges.players.set(players)
    this.gauges.entities.set(entities)
    this.gauges.overruns.set(this.loop.overrun.droppedTicks)
    // Orphan grace runs out without a store event: look again.
    if (this.orphanedAt.size > 0) this.reconcile()
  }

  private collectLoad(): LoadSnapshot {
    this.updateGauges()
    const now = performance.now()
    const cpu = process.cpuUsage(this.cpuMark)
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, now - this.cpuMarkAt)) * 100
    this.cpuMark = process.cpuUsage()
    this.cpuMarkAt = now
    const overruns = this.loop.overrun.overruns
    const runners = [...this.runners.values()]
    return {
      partitions: runners.map((r) => r.load(overruns)),
      process: { cpuPercent, rssBytes: process.memoryUsage.rss(), clients: runners.reduce((s, r) => s + r.players, 0) },
      rooms: runners.filter((r) => r.options.kind === 'room').map((r) => ({ roomId: r.options.worldId, players: r.players })),
    }
  }
}

/** Tell a client why it cannot play here over the control stream, then close. */
function refuse(conn: ClientConnection<TicketClaims>, code: 'not_owner' | 'unknown_world', message: string): void {
  const stream = new ControlStream()
  stream.send(encodeControlMessage({ kind: 'error', code, message }))
  const frame = stream.poll(performance.now())
  if (frame) conn.sendRaw(encodeControlDatagram('server', frame))
  setTimeout(() => conn.close(Protocol.closeCode.going_away), 100).unref()
}
