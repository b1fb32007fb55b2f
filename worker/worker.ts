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
import { area, height, intersectionArea, width } from '../core/geometry.ts'
import { startGrpcServer } from '../core/grpc.ts'
import type { RunningGrpcServer } from '../core/grpc.ts'
import { createMetricsRegistry, registerOps } from '../core/http/ops.ts'
import type { Logger } from '../core/log.ts'
import { decodeMap, leaves, ownersOver } from '../core/partition-map.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import { PrefixCache } from '../core/prefix-cache.ts'
import { Election } from '../core/store/election.ts'
import { decodeRecord, workerRecordSchema, worldSpecSchema } from '../core/records.ts'
import type { WorkerRecord, WorldSpec } from '../core/records.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import { issueTicket } from '../core/tickets.ts'
import type { TicketClaims } from '../core/tickets.ts'
import type { CryptoKey } from 'jose'
import { NeighbourServiceService } from '../proto/gen/tessera/v1/neighbour.ts'
import { Border } from './neighbours/border.ts'
import { LINK_SERVER_OPTIONS, LinkSet } from './neighbours/links.ts'
import { handoffTrace } from './handoff/trace.ts'
import type { Game } from './game/types.ts'
import { LoadReporter } from './load-reporter.ts'
import type { LoadSnapshot } from './load-reporter.ts'
import { Membership } from './membership.ts'
import type { WorkerOptions } from './options.ts'
import { EntityIdBlocks } from './entity-ids.ts'
import { PartitionRunner } from './partition-runner.ts'
import { StandbyPool } from './standby-pool.ts'
import { sleepingScheduler, TickLoop, timerScheduler } from './tick-loop.ts'
import { clusterEpoch, spreadPhase } from '../core/cluster-clock.ts'
import type { ClientConnection, ClientTransport } from './transport/geckos-server.ts'
import { refusePlayer } from './player-link.ts'
import { describeEntities, registerEntityDebug } from './debug-entities.ts'

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
  /**
   * The ticket signing key. With it, a player handed to this worker from another one gets a ticket
   * for here (sent to its client in a `migrate` control message); without it the old worker keeps
   * relaying the player's connection.
   */
  ticketSigner?: { privateKey: CryptoKey; kid: string }
}

export class Worker<S = unknown, M = unknown> {
  readonly registry: Registry
  private readonly runners = new Map<string, PartitionRunner<S, M>>()
  private readonly orphanedAt = new Map<string, number>()
  private readonly maps: PrefixCache<PartitionMap>
  private readonly specs: PrefixCache<WorldSpec>
  private readonly tombstones: PrefixCache<true>
  private readonly workers: PrefixCache<WorkerRecord>
  private readonly workerRecords = new Map<string, WorkerRecord>()
  /**
   * Previous owners of partitions just given to us, until when (performance.now() ms): they hand us
   * those partitions' entities, so we want links to them even when they are not neighbours.
   */
  private readonly predecessors = new Map<string, number>()
  /**
   * `world:leaf` keys given to us that cover ground another runner simulated before (a move, a
   * split, a merge): their entities arrive by handoff, so no fresh NPCs are spawned there.
   */
  private readonly inherited = new Set<string>()
  /** Blocks of entity ids per world, from the store's counter (see `entity-ids.ts`). */
  private readonly entityIds: EntityIdBlocks
  /** Retiring runners still handing entities over after `retireGraceMs` (warned about once). */
  private readonly pastGrace = new WeakSet<PartitionRunner<S, M>>()
  /** Neighbour links (one gRPC stream per adjacent worker) and the border logic over them. */
  readonly links: LinkSet
  readonly border: Border
  /** Players' standby connections, parked until their entities are handed to us. */
  readonly standby: StandbyPool
  private membership: Membership | undefined
  private readonly reporter: LoadReporter
  private readonly loop: TickLoop
  private grpc: RunningGrpcServer | undefined
  private ops: FastifyInstance | undefined
  private unroute: (() => void) | undefined
  private started = false
  private ticks = 0
  /** The tick-clock second the gauges were last updated in. */
  private gaugeSecond = -1
  private stopped = false
  private cpuMark = process.cpuUsage()
  private cpuMarkAt = performance.now()
  private readonly gauges

  constructor(private readonly deps: WorkerDeps<S, M>) {
    const { store, keys, options, logger } = deps
    this.registry = createMetricsRegistry({ service: 'worker', node: options.id })
    this.entityIds = new EntityIdBlocks({ store, keys, logger })
    this.standby = new StandbyPool(options.maxStandbyConnections)
    this.maps = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfMap(key) === undefined ? undefined : decodeMap(value)),
    })
    this.specs = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfSpec(key) === undefined ? undefined : decodeRecord(worldSpecSchema, key, value)),
    })
    this.tombstones = new PrefixCache({ store, prefix: `${keys.prefix}tombstones/`, logger, decode: () => true })
    this.workers = new PrefixCache({ store, prefix: keys.workers(), logger, decode: (key, value) => decodeRecord(workerRecordSchema, key, value) })
    this.links = new LinkSet({
      workerId: options.id, logger,
      owned: () => [...this.runners.values()].filter((r) => !r.retiring).map((r) => r.ref),
      onFrames: (peer, frames) => this.border.receive(peer, frames),
      addressOf: (peer) => this.workerRecords.get(peer)?.grpcAddress,
    })
    const signer = deps.ticketSigner
    this.border = new Border({
      workerId: options.id, logger, ghostMargin: options.ghostMargin,
      handoff: { hysteresis: options.handoffHysteresis, acceptSlack: Math.max(12, options.handoffHysteresis * 3) },
      map: (worldId) => this.maps.get(keys.worldMap(worldId))?.value,
      workers: () => this.workerRecords,
      runners: () => this.runners.values() as IterableIterator<PartitionRunner<unknown, unknown>>,
      runner: (worldId, partitionId) => this.runners.get(`${worldId}:${partitionId}`) as PartitionRunner<unknown, unknown> | undefined,
      sendRemote: (peer, frame) => this.links.send(peer, frame),
      flushRemote: () => this.links.flush(),
      clientUrl: options.advertiseUrl ?? `${deps.transport.url}:${deps.transport.port}`,
      ...(signer
        ? {
            signTicket: (c: { playerId: string; worldId: string; partitionId?: string; workerId?: string; standby?: boolean }) =>
              issueTicket(signer.privateKey, { ...c, workerId: c.workerId ?? options.id, kid: signer.kid, ...(c.standby ? { issuer: options.id } : {}) }),
          }
        : {}),
      standbyNotices: options.standbyNotices,
      transferHoldMs: options.transferHoldMs,
      crossingHoldMs: options.crossingHoldMs,
      takeStandby: (worldId, playerId) => this.standby.take(worldId, playerId),
      releaseStandby: (worldId, playerId, issuer) => this.standby.release(worldId, playerId, issuer),
    })
    this.reporter = new LoadReporter({
      store, keys, workerId: options.id, intervalMs: options.reportIntervalMs, logger, collect: () => this.collectLoad(),
    })
    this.loop = new TickLoop({
      tickRate: options.tickRate,
      scheduler: options.tickSpin ? timerScheduler : sleepingScheduler,
      onTick: (tick) => this.tick(tick),
      onError: (err) => logger.error({ err }, 'tick loop stopped by an error'),
    })
    this.gauges = {
      partitions: new Gauge({ name: 'tessera_worker_partitions', help: 'partitions simulated', registers: [this.registry] }),
      players: new Gauge({ name: 'tessera_worker_players', help: 'players connected', registers: [this.registry] }),
      // A handoff test sums this across processes.
      entities: this.scraped('tessera_worker_entities', 'entities simulated, and out on offer (still ours until accepted)', () => this.entityCount()),
      overruns: new Gauge({ name: 'tessera_worker_tick_overruns', help: 'ticks dropped because a tick ran late', registers: [this.registry] }),
      handoffsOut: this.scraped('tessera_worker_handoffs_out', 'entities offered to another partition since start', () => this.border.stats.handoffsOut),
      handoffsIn: this.scraped('tessera_worker_handoffs_in', 'entities taken from another partition since start', () => this.border.stats.handoffsIn),
      links: this.scraped('tessera_worker_neighbour_links', 'open neighbour links', () => this.links.connected().length),
      standby: this.scraped('tessera_worker_standby_connections', "players' standby connections parked here, waiting for their entities", () => this.standby.size),
      standbyAdopted: this.scraped('tessera_worker_standby_adopted', 'standby connections taken over at a handoff since start (the client switched without dialling)', () => this.standby.stats.adopted),
      standbyReleased: this.scraped('tessera_worker_standby_released', 'standby connections parked here and closed since start because the worker that sent the player no longer wanted them', () => this.standby.stats.released),
      prepares: this.scraped('tessera_worker_standby_prepares', 'players told to open a standby connection to a neighbour since start', () => this.border.notices?.stats.prepares ?? 0),
      crossingsHeld: this.scraped('tessera_worker_crossings_held', 'player crossings held on this side since start until their standby connection was parked ahead', () => this.border.notices?.stats.crossingsHeld ?? 0),
      transferHoldsExpired: this.scraped('tessera_worker_transfer_holds_expired', 'partitions shipped whole since start when transferHoldMs ran out with a player\'s standby connection not parked at the new owner', () => this.border.notices?.stats.transferHoldsExpired ?? 0),
      crossingHoldsExpired: this.scraped('tessera_worker_crossing_holds_expired', 'held crossings offered since start when crossingHoldMs ran out with no standby parked ahead', () => this.border.notices?.stats.crossingHoldsExpired ?? 0),
    }
  }

  /** A gauge of this worker's registry whose value is read when it is scraped. */
  private scraped(name: string, help: string, read: () => number): Gauge {
    return new Gauge({
      name, help, registers: [this.registry],
      collect(this: Gauge): void {
        this.set(read())
      },
    })
  }

  get id(): string {
    return this.deps.options.id
  }

  /** `world:partition` keys of the partitions this worker owns now (not those it is handing over). */
  partitions(): string[] {
    return [...this.runners.entries()].filter(([, r]) => !r.retiring).map(([k]) => k).sort()
  }

  runner(worldId: string, partitionId: string): PartitionRunner<S, M> | undefined {
    return this.runners.get(`${worldId}:${partitionId}`)
  }

  async start(): Promise<void> {
    const { options, transport, logger } = this.deps
    this.grpc = await startGrpcServer(options.grpcHost, options.grpcPort, [
      {
        definition: NeighbourServiceService,
        implementation: { link: this.links.serve },
      },
    ], LINK_SERVER_OPTIONS)
    this.ops = fastify({ logger: false })
    registerOps(this.ops, {
      registry: this.registry,
      ready: () => (this.started && !this.stopped ? { ok: true } : { ok: false, reason: this.stopped ? 'stopping' : 'starting' }),
    })
    registerEntityDebug(this.ops, () =>
      describeEntities(options.id, this.ticks, this.runners.values() as IterableIterator<PartitionRunner<unknown, unknown>>, this.border.offersOut()))
    await this.ops.listen({ host: options.grpcHost, port: options.opsPort })
    const signer = this.deps.ticketSigner
    // The first EdDSA signature in a process costs ~5 ms of one-off set-up (jose, WebCrypto); pay it
    // now rather than on the event loop while the first handed-off player's reply is in flight.
    if (signer) await issueTicket(signer.privateKey, { playerId: 'warm-up', worldId: 'warm-up', workerId: options.id, kid: signer.kid }).catch(() => undefined)

    this.unroute = transport.route(options.id, { onConnect: (conn) => this.accept(conn) })
    const clientUrl = options.advertiseUrl ?? `${transport.url}:${transport.port}`
    const grpcAddress = options.advertiseGrpc ?? this.grpc.address
    await Promise.all([this.maps.start(), this.specs.start(), this.tombstones.start(), this.workers.start()])
    const react = () => this.reconcile()
    this.maps.onChange((changes) => {
      for (const c of changes) if (c.type === 'put' && c.prev) this.notePredecessors(c.prev.value, c.entry.value)
      this.reconcile()
    })
    this.specs.onChange(react)
    this.tombstones.onChange(react)
    this.workers.onChange(react)
    // Ticks numbered on the cluster's clock (see core/cluster-clock.ts), run at a phase of the
    // interval away from the other workers' phases.
    const epochMs = await clusterEpoch(this.deps.store, this.deps.keys)
    const tickPhase = spreadPhase([...this.workers.values()].flatMap(({ value }) => (value.id !== options.id && value.tickPhase !== undefined ? [value.tickPhase] : [])))
    this.membership = new Membership({
      store: this.deps.store, keys: this.deps.keys, logger, ttlSeconds: options.leaseTtlSeconds,
      record: {
        id: options.id, grpcAddress, clientUrl, capacity: options.capacity, version: '0.1.0',
        labels: options.labels, draining: false, startedAt: Date.now(), tickPhase,
        ...(options.region !== undefined ? { region: options.region } : {}),
      },
      onRejoin: () => this.reconcile(),
    })
    await this.membership.start()
    this.loop.start(epochMs + tickPhase * (1000 / options.tickRate))
    this.ticks = this.loop.tick
    this.reconcile()
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

  /**
   * Drain (SIGTERM, a rolling restart): mark this worker draining so the coordinator gives its
   * partitions to other workers, hand their entities over as those moves land (the same path as
   * any owner change), then stop. When no coordinator leads or no other worker could take anything,
   * or after `timeoutMs` (default 20 s), it simply stops. True when nothing was left behind.
   */
  async drain(timeoutMs = 20_000): Promise<boolean> {
    if (this.stopped) return true
    const leader = await new Election(this.deps.store, this.deps.keys.leader()).leader().catch(() => undefined)
    const others = [...this.workerRecords.values()].some((w) => w.id !== this.id && !w.draining)
    let drained = this.runners.size === 0
    if (leader !== undefined && others && !drained) {
      this.deps.logger.info({ partitions: this.partitions() }, 'draining: handing partitions over')
      await this.membership?.setDraining(true)
      const deadline = performance.now() + timeoutMs
      while (!drained && !this.stopped && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        drained = this.runners.size === 0
      }
    }
    await this.stop()
    return drained
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.entityIds.close()
    this.loop.stop()
    await this.reporter.stop()
    for (const runner of this.runners.values()) runner.stop('the worker is shutting down')
    this.runners.clear()
    this.standby.close()
    this.links.stop()
    this.unroute?.()
    await Promise.all([this.maps.stop(), this.specs.stop(), this.tombstones.stop(), this.workers.stop()])
    await this.membership?.stop()
    await this.grpc?.stop()
    await this.ops?.close()
  }

  /** Bring the set of runners in line with the maps: start what we own, stop what we no longer own. */
  private reconcile(): void {
    if (this.stopped) return
    const { options, logger } = this.deps
    const now = performance.now()
    this.workerRecords.clear()
    for (const { value } of this.workers.values()) this.workerRecords.set(value.id, value)
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
        runner.retiringSince = undefined
        continue
      }
      const spec = want.spec
      // `npcs` is a world's population: each partition starts with its share by area, unless it
      // takes over ground whose entities are handed to it.
      const npcs = this.inherited.has(key) ? 0 : Math.round((options.npcs * area(want.rect)) / area(spec.bounds))
      if (spec.kind === 'world' && !this.entityIds.ready(spec.id, npcs + 1)) {
        // Its entity ids come from the store: start it once there are enough for its NPCs.
        this.entityIds.fill(spec.id, npcs + 1).then(
          () => this.reconcile(),
          (err: unknown) => logger.warn({ err, world: spec.id }, 'could not reserve entity ids; trying again'),
        )
        continue
      }
      const created = new PartitionRunner<S, M>({
        worldId: spec.id, partitionId: want.leafId, epoch: want.epoch, kind: spec.kind, rect: want.rect,
        worldBounds: spec.bounds, maxPlayers: spec.maxPlayers, game: this.deps.game(spec), seed: options.seed,
        tickRate: options.tickRate,
        // A room is one small space: everyone in it sees everyone, whatever the world radius is.
        interestRadius: spec.kind === 'room' ? Math.max(options.interestRadius, Math.hypot(width(spec.bounds), height(spec.bounds))) : options.interestRadius,
        npcs,
        logger, ...(this.deps.onPlayer ? { onPlayer: this.deps.onPlayer } : {}),
        // One tick numbering for all of a worker's runners, and the cluster's: a player moving
        // between them keeps its snapshot stream (and delta baselines), and a partition handed
        // here goes on from the tick after the one it was frozen at.
        startTick: this.ticks,
        ...(spec.kind === 'world' ? { border: this.border, ids: this.entityIds.source(spec.id) } : {}),
      })
      this.inherited.delete(key)
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
      if (!mapGone && this.retire(runner, now)) continue
      runner.stop(mapGone ? 'the world was closed' : 'the partition moved to another worker')
      this.runners.delete(key)
      logger.info({ partition: key, mapGone, tombstoned }, 'stopped simulating partition')
    }
    this.gauges.partitions.set(this.runners.size)
    this.links.setPeers(this.peerAddresses())
  }

  /**
   * Keep a partition the map gave to another worker running while it hands its entities over (and
   * relays players whose connections are here). True while it should keep running.
   *
   * Entities are never dropped to end a handover: stopping a runner destroys whatever it still
   * simulates or holds on offer. The border ships the whole partition at the first tick boundary
   * (`PartitionTransfer`), but what a successor refuses comes back here, simulated until it goes
   * again; so a runner can still hold entities when `retireGraceMs` runs out, and keeps going for
   * as long as a live successor can take them. The grace bounds only what can wait for nobody:
   * relayed connections of players whose clients do not move, entities whose successors are all
   * gone (the coordinator gives the ground to a live worker within a round, and the handover
   * resumes), and entities whose state the game cannot encode (`abandonUnencodable`). An entity on
   * offer to a worker that died is taken back by the border at the next tick boundary after that
   * worker's registration ends, and handed over again from here.
   */
  private retire(runner: PartitionRunner<S, M>, now: number): boolean {
    if (runner.options.kind !== 'world') return false
    runner.retiringSince ??= now
    const untyped = runner as PartitionRunner<unknown, unknown>
    if (runner.sim.entityCount === 0 && runner.players === 0 && !this.border.busy(untyped)) return false
    // Offers to a worker that died do not count: the border takes those entities back.
    const holding = runner.sim.entityCount > 0 || this.border.busy(untyped, (w) => this.isLive(w))
    const overdue = now - runner.retiringSince >= this.deps.options.retireGraceMs
    if (holding && this.successorAlive(runner)) {
      // Past its grace, with nothing left but what can never be handed over: give that up and stop.
      if (overdue && this.abandonUnencodable(runner)) return false
      if (overdue && !this.pastGrace.has(runner)) {
        this.pastGrace.add(runner)
        this.deps.logger.warn({ partition: runner.key, entities: runner.sim.entityCount }, 'retiring partition still hands entities over after its grace; it keeps running until they are taken')
      }
      return true
    }
    return !overdue
  }

  /**
   * Past its grace, a retiring runner whose every remaining entity is one the game cannot encode
   * (its offers cannot be made, so it would never empty) gives them up: NPCs are dropped, players
   * sent to join again. Logged as an error, and counted with the partition's game faults already
   * (each failed encode was). True when it did.
   */
  private abandonUnencodable(runner: PartitionRunner<S, M>): boolean {
    const untyped = runner as PartitionRunner<unknown, unknown>
    const stuck = this.border.unencodableOf(untyped)
    if (stuck.size === 0 || this.border.busy(untyped) || runner.sim.entityCount === 0) return false
    for (const e of runner.sim.allEntities()) if (!stuck.has(e.id)) return false
    this.deps.logger.error({ partition: runner.key, entities: runner.sim.entityCount }, "retiring partition gives up entities whose state the game cannot encode for a handover: NPCs dropped, players sent to join again")
    for (const id of stuck) runner.abandon(id, "your entity could not be handed to this partition's new owner")
    return true
  }

  /**
   * Whether anyone alive owns ground this runner covers (the same leaf moved, or the leaves it was
   * split into or merged with): they take its entities.
   */
  private successorAlive(runner: PartitionRunner<S, M>): boolean {
    const map = this.maps.get(this.deps.keys.worldMap(runner.options.worldId))?.value
    return map !== undefined && [...ownersOver(map, runner.options.rect)].some((o) => this.isLive(o))
  }

  /** This worker, or one whose registration (lease) is current. */
  private isLive(workerId: string): boolean {
    return workerId === this.id || this.workerRecords.has(workerId)
  }

  private notePredecessors(before: PartitionMap, after: PartitionMap): void {
    const me = this.deps.options.id
    const previous = leaves(before)
    const until = performance.now() + this.deps.options.retireGraceMs
    for (const { leaf, rect } of leaves(after)) {
      if (leaf.owner !== me) continue
      const same = previous.find((p) => p.leaf.id === leaf.id)
      if (same?.leaf.owner === me && same.leaf.epoch === leaf.epoch) continue
      for (const p of previous) {
        if (!p.leaf.owner || intersectionArea(p.rect, rect) <= 0) continue
        // A predecessor whose lease has ended (a crash) hands nothing over: its ground starts afresh,
        // with its share of walkers, instead of waiting for entities that died with it.
        if (p.leaf.owner !== me && !this.workers.get(this.deps.keys.worker(p.leaf.owner))) continue
        this.inherited.add(`${after.worldId}:${leaf.id}`)
        if (p.leaf.owner !== me) this.predecessors.set(p.leaf.owner, until)
      }
    }
  }

  private peerAddresses(): Map<string, string> {
    const out = new Map<string, string>()
    const now = performance.now()
    const wanted = this.border.peers()
    for (const [peer, until] of this.predecessors) {
      if (until < now) this.predecessors.delete(peer)
      else if (peer !== this.deps.options.id) wanted.add(peer)
    }
    for (const peer of wanted) {
      const record = this.workerRecords.get(peer)
      if (record) out.set(peer, record.grpcAddress)
    }
    return out
  }

  private accept(conn: ClientConnection<TicketClaims>): void {
    const claims = conn.principal
    // A player handed to us (migrating with a ticket) joins the runner that holds its entity now,
    // which may no longer be the partition its ticket names.
    const holder = [...this.runners.values()].find(
      (r) => r.options.worldId === claims.worldId && r.sim.playerEntity(claims.playerId) !== undefined && !r.sim.isRelay(claims.playerId),
    )
    const runner = holder ?? (claims.partitionId
      ? this.runners.get(`${claims.worldId}:${claims.partitionId}`)
      : [...this.runners.values()].find((r) => r.options.worldId === claims.worldId && r.options.kind === 'room'))
    if (claims.standby && !holder) {
      // Ahead of its entity (`prepare`): parked, nothing spawned, until the entity is handed to us.
      // The worker that sent the player here hears of it (a partition it ships whole waits for this).
      if (this.standby.park(conn) && claims.issuer && claims.issuer !== this.id) {
        this.links.send(claims.issuer, { frame: { $case: 'standbyParked', value: { worldId: claims.worldId, playerId: claims.playerId } } })
        this.links.flush()
      }
      return
    }
    if (claims.standby && holder?.hasPlayer(claims.playerId)) {
      // Its entity is here and so is its connection (it came here another way): a second one would
      // replace it, and with it the entity.
      refusePlayer(conn, 'already_playing', 'this player is connected here already', performance.now())
      return
    }
    if (!runner) {
      refusePlayer(conn, 'not_owner', `this worker does not simulate ${claims.worldId}${claims.partitionId ? `:${claims.partitionId}` : ''}`, performance.now())
      return
    }
    if (runner.retiring && !holder) {
      // The partition is moving away: a new entity here would only follow the others out.
      refusePlayer(conn, 'not_owner', `${runner.key} is moving to another worker`, performance.now())
      return
    }
    runner.addPlayer(conn)
  }

  private tick(tick: number): void {
    // Runners are stepped together: one timer per worker, each partition measured on its own.
    // Border work happens at the tick boundaries on either side of the step.
    const traced = handoffTrace.enabled
    const start = traced ? handoffTrace.now() : 0
    this.ticks = tick
    this.border.beforeTick(tick)
    for (const runner of this.runners.values()) runner.tick(tick)
    const stepped = traced ? handoffTrace.now() : 0
    this.border.afterTick()
    const bordered = traced ? handoffTrace.now() : 0
    this.links.flush()
    if (this.border.awaitingReplies && this.deps.options.replyWaitSpinMs > 0) this.turnUntilAnswered(performance.now() + this.deps.options.replyWaitSpinMs)
    if (traced) handoffTrace.tick({ worker: this.id, start, stepped, bordered, end: handoffTrace.now() })
    this.ticks = tick + 1
    // Once a second (by the tick numbers, which skip ticks dropped in an overrun).
    const second = Math.floor(this.ticks / this.deps.options.tickRate)
    if (second !== this.gaugeSecond) {
      this.gaugeSecond = second
      this.updateGauges()
    }
  }

  /**
   * Keep the event loop turning until this tick's offers are answered (or `until`): the reply is
   * then taken in as soon as it arrives, the thread already on a CPU rather than asleep and woken.
   */
  private turnUntilAnswered(until: number): void {
    const turn = (): void => {
      if (this.border.awaitingReplies && performance.now() < until) setImmediate(turn)
    }
    setImmediate(turn)
  }

  private updateGauges(): void {
    let players = 0
    for (const r of this.runners.values()) players += r.players
    this.gauges.players.set(players)
    this.gauges.overruns.set(this.loop.overrun.droppedTicks)
    // Orphan grace and handovers end without a store event: look again (this also re-checks links).
    this.reconcile()
  }

  /** Entities simulated here, plus those out on offer (still ours until accepted). */
  private entityCount(): number {
    let n = this.border.offersOut().length
    for (const r of this.runners.values()) n += r.sim.entityCount
    return n
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
