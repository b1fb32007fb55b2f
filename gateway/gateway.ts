/**
 * A gateway process: the players' stateless HTTP front door. It answers lookups from watch caches
 * of the store and writes only to create rooms, reserve seats and queue matches; any number may run
 * side by side.
 */
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { JSONWebKeySet } from 'jose'
import { Counter, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import { createMetricsRegistry } from '../core/http/ops.ts'
import type { Logger } from '../core/log.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import { GrantSigner } from './grants.ts'
import { buildGatewayHttp } from './http.ts'
import { anonymousIdentity, jwtIdentity } from './identity.ts'
import type { Identify } from './identity.ts'
import { Matchmaker } from './matchmaking.ts'
import type { GatewayOptions } from './options.ts'
import { PlacementClient } from './placement-client.ts'
import { enforcePolicy } from './player-policy.ts'
import { RoomService } from './room-service.ts'
import { registerGatewayRoutes } from './routes.ts'
import { loadSigningKey } from './ticket-keys.ts'
import type { SigningKey } from './ticket-keys.ts'
import { GatewayView } from './view.ts'
import { joinWorld } from './world-join.ts'

export interface GatewayExtras {
  /** Identity hook instead of the one the options describe. */
  identify?: Identify
  /** Ticket signing key instead of the one the options describe. */
  signingKey?: SigningKey
  /** Room id generator (tests force collisions with it). */
  newRoomId?: () => string
}

export class Gateway {
  readonly registry: Registry
  readonly view: GatewayView
  private readonly placement: PlacementClient
  private http: FastifyInstance | undefined
  private matchmaker: Matchmaker | undefined
  private signingKey: SigningKey | undefined
  private url = ''
  private started = false

  constructor(
    private readonly store: ClusterStore,
    private readonly keys: Keys,
    private readonly options: GatewayOptions,
    private readonly logger: Logger,
    private readonly extras: GatewayExtras = {},
  ) {
    this.registry = createMetricsRegistry({ service: 'gateway', node: options.id })
    this.view = new GatewayView(store, keys, logger)
    this.placement = new PlacementClient({ store, keys, logger, ...(options.coordinatorAddress ? { address: options.coordinatorAddress } : {}) })
  }

  /** The URL the gateway listens on, e.g. `http://127.0.0.1:8080`. */
  get address(): string {
    return this.url
  }

  /** The ticket signing key (its public half is set when it was generated here, for workers). */
  get ticketKey(): SigningKey | undefined {
    return this.signingKey
  }

  async start(): Promise<void> {
    const o = this.options
    const { store, keys, logger } = this
    this.signingKey = this.extras.signingKey ?? (await loadSigningKey({ text: o.ticketPrivateKey, file: o.ticketPrivateKeyFile, kid: o.ticketKeyId }))
    const identify = this.extras.identify ?? (await this.identity())
    await this.view.start()
    await this.placement.start()
    const signer = new GrantSigner(this.signingKey, o.ticketTtlSeconds)
    const rooms = new RoomService({
      store, keys, logger, view: this.view, placement: this.placement, signer, policy: o.sessionPolicy,
      seatReservationMs: o.seatReservationMs, emptyRoomGraceMs: o.emptyRoomGraceMs,
      ...(this.extras.newRoomId ? { newId: this.extras.newRoomId } : {}),
    })
    this.matchmaker = new Matchmaker({ store, keys, logger, gatewayId: o.id, rooms, ticketTtlMs: o.matchTicketTtlMs, leaseTtlSeconds: o.leaseTtlSeconds })
    await this.matchmaker.start()
    const matchmaker = this.matchmaker
    const latency = new Histogram({
      name: 'tessera_gateway_request_ms', help: 'gateway operation latency, ms', labelNames: ['op'] as const,
      buckets: [1, 2, 5, 10, 15, 25, 50, 100, 250, 1000], registers: [this.registry],
    })
    const errors = new Counter({ name: 'tessera_gateway_errors_total', help: 'error answers by code', labelNames: ['code'] as const, registers: [this.registry] })
    this.http = await buildGatewayHttp({
      logger, registry: this.registry, errors,
      ready: () => (this.started ? { ok: true } : { ok: false, reason: 'starting' }),
      bodyLimitBytes: o.bodyLimitBytes, rateLimitMax: o.rateLimitMax, rateLimitWindowMs: o.rateLimitWindowMs,
    }, (app) => registerGatewayRoutes(app, {
      identify, rooms, matchmaker, latency, maxLongPollMs: o.maxLongPollMs,
      playersOnline: () => ({ online: this.view.sessions.size }),
      joinWorld: (playerId, worldId, spawn) => {
        const now = Date.now()
        return joinWorld({ view: this.view, signer, now, beforeGrant: (target) => enforcePolicy({ view: this.view, store, keys, logger }, o.sessionPolicy, playerId, target, now) }, playerId, worldId, spawn)
      },
    }))
    await this.http.listen({ host: o.host, port: o.port })
    const addr = this.http.server.address()
    const port = typeof addr === 'object' && addr ? addr.port : o.port
    this.url = `http://${o.host}:${port}`
    this.started = true
    logger.info({ url: this.url }, 'gateway started')
  }

  async stop(): Promise<void> {
    this.started = false
    await this.http?.close()
    await this.matchmaker?.stop()
    await this.placement.stop()
    await this.view.stop()
  }

  private async identity(): Promise<Identify> {
    const o = this.options
    if (o.identity === 'anonymous') return anonymousIdentity()
    const jwks = o.jwtJwksFile !== undefined ? (JSON.parse(await readFile(o.jwtJwksFile, 'utf8')) as JSONWebKeySet) : undefined
    return jwtIdentity({
      ...(o.jwtPublicKey !== undefined ? { publicKeyPem: o.jwtPublicKey } : {}),
      ...(jwks ? { jwks } : {}),
      ...(o.jwtJwksUrl !== undefined ? { jwksUrl: o.jwtJwksUrl } : {}),
      ...(o.jwtIssuer !== undefined ? { issuer: o.jwtIssuer } : {}),
      ...(o.jwtAudience !== undefined ? { audience: o.jwtAudience } : {}),
    })
  }
}
