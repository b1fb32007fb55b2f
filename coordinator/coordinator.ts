/**
 * A coordinator process: keeps a warm view of the store, campaigns for leadership, and while it
 * leads runs the planning loop, takes load reports and places rooms. Any number may run; the
 * store's election picks one leader and the others stand by, answering with the leader's address.
 */
import type { FastifyInstance } from 'fastify'
import { Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import { startGrpcServer } from '../core/grpc.ts'
import type { RunningGrpcServer } from '../core/grpc.ts'
import { createMetricsRegistry } from '../core/http/ops.ts'
import { encodeLeaderInfo, parseLeaderInfo } from '../core/leader.ts'
import type { LeaderInfo } from '../core/leader.ts'
import type { Logger } from '../core/log.ts'
import { PrefixCache } from '../core/prefix-cache.ts'
import { Election } from '../core/store/election.ts'
import type { Leadership, Observation } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore, Lease } from '../core/store/types.ts'
import { CoordinatorServiceService } from '../proto/gen/tessera/v1/coordinator.ts'
import { buildOperatorApi } from './api/server.ts'
import { EventLog } from './events.ts'
import { coordinatorService } from './grpc-service.ts'
import { LoadTable } from './load-table.ts'
import type { CoordinatorOptions } from './options.ts'
import { Operator } from './operator.ts'
import { plannerConfig } from './planner/index.ts'
import { Rebalancer } from './rebalancer.ts'
import { RoomPlacer } from './room-placement.ts'
import { RoomSweeper } from './room-sweeper.ts'
import { ClusterView } from './view.ts'

export class Coordinator {
  readonly events = new EventLog()
  readonly loads: LoadTable
  readonly view: ClusterView
  readonly rebalancer: Rebalancer
  readonly operator: Operator
  readonly registry: Registry
  private readonly election: Election
  private readonly placer: RoomPlacer
  private readonly sweeper: RoomSweeper
  private readonly pausedFlag: PrefixCache<boolean>
  private leadership: Leadership | undefined
  private leaderInfo: LeaderInfo | null = null
  private observation: Observation | undefined
  private grpc: RunningGrpcServer | undefined
  private http: FastifyInstance | undefined
  private lease: Lease | undefined
  private roundTimer: NodeJS.Timeout | undefined
  private readonly stopping = new AbortController()
  private campaignLoop: Promise<void> | undefined
  private roundInFlight: Promise<unknown> | undefined
  private grpcAddress = ''
  private apiUrl = ''
  private readonly metrics

  constructor(
    private readonly store: ClusterStore,
    private readonly keys: Keys,
    private readonly options: CoordinatorOptions,
    private readonly logger: Logger,
  ) {
    this.registry = createMetricsRegistry({ service: 'coordinator', node: options.id })
    this.loads = new LoadTable(options.reportStaleMs)
    this.view = new ClusterView(store, keys, logger)
    // Cooldowns are set in seconds; the planner counts them in rounds of the planning interval.
    const config = plannerConfig({ roundMs: options.rebalanceIntervalMs, ...options.planner })
    this.election = new Election(store, keys.leader(), logger)
    const leadership = () => this.leadership
    this.rebalancer = new Rebalancer({ store, keys, view: this.view, loads: this.loads, events: this.events, logger, config, leadership })
    this.placer = new RoomPlacer({
      store, keys, view: this.view, loads: this.loads, events: this.events, logger,
      options: {
        strategy: options.placementStrategy,
        roomBaseCostMs: options.roomBaseCostMs,
        roomPlayerCostMs: options.roomPlayerCostMs,
        pendingMs: 10_000,
        defaultBounds: { minX: 0, minY: 0, maxX: options.roomSize, maxY: options.roomSize },
      },
    })
    this.sweeper = new RoomSweeper({ store, keys, logger, events: this.events })
    this.pausedFlag = new PrefixCache({
      store, prefix: this.pausedKey(), logger,
      decode: (key, value) => (key === this.pausedKey() ? value === 'true' : undefined),
    })
    this.operator = new Operator({
      selfId: options.id, store, keys, view: this.view, loads: this.loads, events: this.events,
      rebalancer: this.rebalancer, config, leadership,
      leader: () => (this.leaderInfo ? { id: this.leaderInfo.id, apiUrl: this.leaderInfo.apiUrl } : null),
      setPaused: async (paused) => {
        await store.put(this.pausedKey(), String(paused))
        this.rebalancer.paused = paused
      },
    })
    this.metrics = {
      leading: new Gauge({ name: 'tessera_coordinator_leading', help: '1 while this coordinator leads', registers: [this.registry] }),
      workers: new Gauge({ name: 'tessera_coordinator_workers', help: 'live workers', registers: [this.registry] }),
      workersWanted: new Gauge({ name: 'tessera_coordinator_workers_wanted', help: 'workers wanted beyond the live ones (negative: surplus)', registers: [this.registry] }),
      roundMs: new Histogram({ name: 'tessera_coordinator_round_ms', help: 'planning round duration, ms', buckets: [1, 2, 5, 10, 20, 50, 100, 250, 1000], registers: [this.registry] }),
      conflicts: new Gauge({ name: 'tessera_coordinator_map_conflicts', help: 'map writes lost to a concurrent writer, last round', registers: [this.registry] }),
    }
  }

  get isLeader(): boolean {
    return this.leadership !== undefined && !this.leadership.isLost
  }

  get addresses(): { grpc: string; api: string } {
    return { grpc: this.grpcAddress, api: this.apiUrl }
  }

  /** The current leader according to the election (this one or another). */
  get leader(): LeaderInfo | null {
    return this.leaderInfo
  }

  async start(): Promise<void> {
    const o = this.options
    await this.view.start()
    await this.pausedFlag.start()
    this.rebalancer.paused = this.pausedFlag.get(this.pausedKey())?.value ?? false
    this.pausedFlag.onChange(() => {
      this.rebalancer.paused = this.pausedFlag.get(this.pausedKey())?.value ?? false
    })
    this.view.workers.onChange((changes) => {
      for (const c of changes) {
        const id = c.type === 'put' ? c.entry.value.id : c.prev.value.id
        if (c.type === 'delete') {
          this.loads.forget(id)
          this.events.publish({ type: 'membership', workerId: id, message: `worker ${id} left (lease ended or deregistered)` })
        } else if (!c.prev) {
          this.events.publish({ type: 'membership', workerId: id, message: `worker ${id} joined (capacity ${c.entry.value.capacity})` })
        } else if (c.entry.value.draining && !c.prev.value.draining) {
          this.events.publish({ type: 'membership', workerId: id, message: `worker ${id} is draining` })
        }
      }
    })

    this.grpc = await startGrpcServer(o.grpcHost, o.grpcPort, [
      {
        definition: CoordinatorServiceService,
        implementation: coordinatorService({
          loads: this.loads,
          placer: this.placer,
          logger: this.logger,
          leadership: () => this.leadership,
          leaderAddress: () => this.leaderInfo?.grpcAddress ?? '',
        }),
      },
    ])
    this.grpcAddress = o.advertiseGrpc ?? this.grpc.address

    this.http = buildOperatorApi(this.operator, {
      logger: this.logger,
      registry: this.registry,
      ready: () => (this.leaderInfo ? { ok: true } : { ok: false, reason: 'no leader elected yet' }),
      ...(o.dashboardDir !== undefined ? { dashboardDir: o.dashboardDir } : {}),
    })
    await this.http.listen({ host: o.httpHost, port: o.httpPort })
    const addr = this.http.server.address()
    const port = typeof addr === 'object' && addr ? addr.port : o.httpPort
    this.apiUrl = o.advertiseApi ?? `http://${o.httpHost}:${port}`

    this.observation = this.election.observe((value) => {
      const next = parseLeaderInfo(value)
      if (next?.id !== this.leaderInfo?.id) {
        this.events.publish({ type: 'leadership', message: next ? `${next.id} leads` : 'no leader' })
      }
      this.leaderInfo = next
    })
    this.campaignLoop = this.campaign()
    this.scheduleRound()
    this.logger.info({ grpc: this.grpcAddress, api: this.apiUrl }, 'coordinator started')
  }

  /** Run one planning round now (tests and operators; the timer runs them on its own). */
  async runRound() {
    return this.rebalancer.runRound()
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort()
    if (this.roundTimer) clearTimeout(this.roundTimer)
    await this.roundInFlight?.catch(() => undefined)
    await this.leadership?.resign().catch(() => undefined)
    await this.lease?.revoke().catch(() => undefined)
    await this.campaignLoop?.catch(() => undefined)
    await this.observation?.cancel()
    await this.http?.close()
    await this.grpc?.stop()
    await this.pausedFlag.stop()
    await this.view.stop()
  }

  /**
   * Stop as a killed process would: stop acting and let go of the lease without revoking it, so the
   * store ends the leadership only when the lease's TTL runs out. For failover tests in one process.
   */
  async crash(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort()
    if (this.roundTimer) clearTimeout(this.roundTimer)
    this.lease?.release()
    await this.campaignLoop?.catch(() => undefined)
    await this.observation?.cancel()
    await this.http?.close()
    await this.grpc?.stop(0)
    await this.pausedFlag.stop()
    await this.view.stop()
  }

  private pausedKey(): string {
    return this.keys.rebalancingPaused()
  }

  /** Campaign, lead until leadership is lost, campaign again, until stopped. */
  private async campaign(): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      try {
        this.lease = await this.store.grantLease(this.options.leaseTtlSeconds)
        const info: LeaderInfo = { id: this.options.id, grpcAddress: this.grpcAddress, apiUrl: this.apiUrl }
        const leadership = await this.election.campaign(encodeLeaderInfo(info), this.lease, signal)
        this.leadership = leadership
        // Reports went to the previous leader; workers find us within a report interval.
        this.loads.clear()
        this.rebalancer.reset()
        this.metrics.leading.set(1)
        this.events.publish({ type: 'leadership', message: `${this.options.id} became the leader` })
        this.logger.info('became the leader')
        await Promise.race([leadership.lost, new Promise((r) => signal.addEventListener('abort', r, { once: true }))])
        this.metrics.leading.set(0)
        this.leadership = undefined
        if (!signal.aborted) {
          this.events.publish({ type: 'leadership', message: `${this.options.id} lost leadership` })
          this.logger.warn('lost leadership')
          await this.lease.revoke().catch(() => undefined)
        }
      } catch (err) {
        if (signal.aborted) return
        this.logger.warn({ err }, 'campaign failed; retrying')
        await new Promise((r) => setTimeout(r, 500))
      }
    }
  }

  private scheduleRound(): void {
    if (this.stopping.signal.aborted) return
    this.roundTimer = setTimeout(() => {
      this.roundInFlight = this.rebalancer
        .runRound()
        .then((outcome) => {
          this.metrics.workers.set(this.view.workers.size)
          this.metrics.workersWanted.set(this.rebalancer.workersWanted)
          if (outcome.ran) {
            this.metrics.roundMs.observe(outcome.ms)
            this.metrics.conflicts.set(outcome.conflicts.length)
          }
        })
        // Empty rooms are removed by the leader only, once per round (see room-sweeper.ts).
        .then(() => (this.leadership && !this.leadership.isLost ? this.sweeper.sweep(this.leadership) : undefined))
        .catch((err: unknown) => this.logger.warn({ err }, 'planning round failed'))
        .finally(() => this.scheduleRound())
    }, this.options.rebalanceIntervalMs)
  }
}
