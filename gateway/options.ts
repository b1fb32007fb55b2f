/** The gateway's options: one schema, parsed once in `tessera gateway`'s main. */
import { z } from 'zod'
import { opt } from '../core/config.ts'

export const gatewayOptionsSchema = z.object({
  /** This gateway's id. Default `gateway-<pid>`. */
  id: z.string().min(1).default(`gateway-${process.pid}`),
  /** etcd endpoints; empty means the in-memory store (embedded mode only). */
  etcdEndpoints: opt.list().default([]),
  /** Key prefix of the cluster in the store. Default `/tessera/`. */
  keyPrefix: z.string().min(1).default('/tessera/'),
  host: z.string().default('127.0.0.1'),
  /** HTTP port; 0 picks a free one. Default 8080. */
  port: opt.port().default(8080),
  /** The coordinator's gRPC address; default: the elected leader's, from the store. */
  coordinatorAddress: z.string().optional(),
  /** Ticket signing key (PKCS#8 PEM, or an Ed25519 private JWK as JSON). Without one, a fresh pair is generated (development only). */
  ticketPrivateKey: z.string().optional(),
  /** File holding the ticket signing key (PEM or JWK JSON). */
  ticketPrivateKeyFile: z.string().optional(),
  /** Key id put in ticket headers; workers pick the public key by it. Default `gateway`. */
  ticketKeyId: z.string().min(1).default('gateway'),
  /** Ticket lifetime, seconds. Default 30. */
  ticketTtlSeconds: opt.int().min(1).default(30),
  /** Seat reservation lifetime, ms. Default 15 000. */
  seatReservationMs: opt.int().min(100).default(15_000),
  /** A room empty this long is removed by the coordinator leader, ms. Default 30 000. */
  emptyRoomGraceMs: opt.int().min(0).default(30_000),
  /** A player with a session (or a seat) elsewhere: refuse (409 `already_playing`) or move them. Default `refuse`. */
  sessionPolicy: z.enum(['refuse', 'move']).default('refuse'),
  /** Queued matchmaking tickets expire after this long, ms. Default 60 000. */
  matchTicketTtlMs: opt.int().min(100).default(60_000),
  /** Longest `?wait=` of a long poll, ms. Default 30 000. */
  maxLongPollMs: opt.int().min(0).default(30_000),
  /** Requests per client (player id, else IP) per `rateLimitWindowMs`. Default 120. */
  rateLimitMax: opt.int().min(1).default(120),
  /** Rate limit window, ms. Default 10 000. */
  rateLimitWindowMs: opt.int().min(100).default(10_000),
  /** Largest request body, bytes. Default 16 384. */
  bodyLimitBytes: opt.int().min(256).default(16_384),
  /** Identity: `anonymous` (header `x-player-id` or a generated id; development) or `jwt`. Default `anonymous`. */
  identity: z.enum(['anonymous', 'jwt']).default('anonymous'),
  /** JWT identity: a public key (SPKI PEM) or a JWKS (JSON) verifying player tokens. */
  jwtPublicKey: z.string().optional(),
  jwtJwksFile: z.string().optional(),
  /** JWT identity: a remote JWKS URL (production). */
  jwtJwksUrl: z.string().url().optional(),
  jwtIssuer: z.string().optional(),
  jwtAudience: z.string().optional(),
  /** Lease TTL for this gateway's matchmaking tickets, seconds. Default 10. */
  leaseTtlSeconds: opt.int().min(1).default(10),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
})

export type GatewayOptions = z.infer<typeof gatewayOptionsSchema>

/** Defaults for everything not given (tests and embedded mode build options this way). */
export function gatewayOptions(partial: z.input<typeof gatewayOptionsSchema> = {}): GatewayOptions {
  return gatewayOptionsSchema.parse(partial)
}
