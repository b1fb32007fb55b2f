/** The worker's options: one schema, parsed once in `tessera worker`'s main. */
import { z } from 'zod'
import { opt } from '../core/config.ts'
import { DEFAULT_GHOST_MARGIN } from './neighbours/ghosts.ts'
import { CROSSING_HOLD_MS, TRANSFER_HOLD_MS } from './neighbours/standby-notices.ts'

export const workerOptionsSchema = z.object({
  /** This worker's id (unique in the cluster). Default `worker-<pid>`. */
  id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').default(`worker-${process.pid}`),
  etcdEndpoints: opt.list().default([]),
  keyPrefix: z.string().min(1).default('/tessera/'),
  /** Host of the client transport (geckos.io signalling over HTTP, then UDP). Default 127.0.0.1. */
  host: z.string().default('127.0.0.1'),
  /** Signalling HTTP port; 0 picks one. Default 9208. */
  port: opt.port().default(9208),
  /** The one UDP port of all player connections; 0 picks one. */
  udpPort: opt.port().default(0),
  /** URL players use to reach this worker, if not `http://host:port`. */
  advertiseUrl: z.string().optional(),
  grpcHost: z.string().default('127.0.0.1'),
  /** Neighbour/transfer gRPC port; 0 picks one. Default 0. */
  grpcPort: opt.port().default(0),
  advertiseGrpc: z.string().optional(),
  /** Port of /metrics, /healthz, /readyz; 0 picks one. Default 0. */
  opsPort: opt.port().default(0),
  /** Load budget in ms of simulation per second (1000 = one core). Default 800. */
  capacity: opt.number().positive().default(800),
  labels: opt.labels().default({}),
  region: z.string().optional(),
  tickRate: opt.int().min(1).max(120).default(20),
  interestRadius: opt.number().positive().default(100),
  /** NPC walkers per world (the demo game); each partition it starts gets its share by area. Default 0. */
  npcs: opt.int().min(0).default(0),
  /** Ed25519 public keys that sign tickets: `kid=path-to-pem,...` or an object in the config file. */
  ticketPublicKeys: opt.labels().default({}),
  /**
   * An Ed25519 private key (PKCS#8 PEM file) whose public half every worker trusts: with it, a player
   * handed to this worker gets a ticket for it and its client switches here (`migrate`). Without
   * it the player's old worker relays the player for as long as the connection lives, so that
   * worker cannot drain while it relays anyone.
   */
  ticketPrivateKeyFile: z.string().optional(),
  /** Key id of `ticketPrivateKeyFile`, as the workers' `ticketPublicKeys` name it. Default `worker`. */
  ticketKeyId: z.string().min(1).default('worker'),
  leaseTtlSeconds: opt.int().min(1).default(3),
  /** Load reports to the coordinator leader, ms. Default 500 (the leader plans every 500 ms). */
  reportIntervalMs: opt.int().min(100).default(500),
  /** Keep simulating a partition whose map vanished (a store wipe) this long, so it can be rebuilt. */
  orphanGraceMs: opt.int().min(0).default(15_000),
  /** Entities within this distance of a border with another partition are shown there as ghosts. Default 16. */
  ghostMargin: opt.number().positive().default(DEFAULT_GHOST_MARGIN),
  /** How far past its partition's edge an entity must walk before it is handed off. Default 4. */
  handoffHysteresis: opt.number().min(0).default(4),
  /**
   * A partition the map gave to another worker keeps running this long at most while it hands its
   * entities over and relays its players' connections. Default 30,000 ms.
   */
  retireGraceMs: opt.int().min(0).default(30_000),
  /**
   * Tell a player whose entity nears a border with another worker's partition to connect there ahead
   * of its handoff (`prepare`, with a standby ticket; needs `ticketPrivateKeyFile`), so its client
   * switches at the handoff without dialling. Default true.
   */
  standbyNotices: opt.bool().default(true),
  /**
   * A partition given to another worker is shipped whole once its players' standby connections
   * wait there, or after this long (ms) at most; 0 ships at once (its players are then relayed and
   * sent `migrate`). Default 500.
   */
  transferHoldMs: opt.int().min(0).default(TRANSFER_HOLD_MS),
  /**
   * A player's entity that crosses a border before its standby connection is parked at the worker
   * ahead waits on this side for it, this long (ms) at most and only within the ghost margin less
   * the hysteresis band; then it is offered anyway (its player relayed and sent `migrate`). 0 offers
   * at once. Default 1000.
   */
  crossingHoldMs: opt.int().min(0).default(CROSSING_HOLD_MS),
  /**
   * Wait out the last millisecond before each tick by turning the event loop, so ticks start within
   * microseconds of their due time, instead of asleep on a timer (up to ~1 ms late). Turning costs
   * about 1% of a core per worker process and a third more garbage collections; it was measured
   * to keep the handoff p99 about 1 ms lower on two shared virtual CPUs. Default true.
   */
  tickSpin: opt.bool().default(true),
  /**
   * After a tick that sent handoff offers to other workers, keep the event loop turning (instead of
   * asleep) until they are answered, this long (ms) at most, so each reply is taken in the moment
   * it arrives. Measured to shorten the handoff tail on two shared virtual CPUs; costs at most this
   * long per tick, only on ticks that offer. 0 turns it off. Default 5.
   */
  replyWaitSpinMs: opt.number().min(0).max(50).default(5),
  /** Standby connections this worker holds at most (one per player); more are refused as `busy`. Default 2000. */
  maxStandbyConnections: opt.int().min(0).default(2000),
  seed: opt.int().default(1),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
})

export type WorkerOptions = z.infer<typeof workerOptionsSchema>

export function workerOptions(partial: z.input<typeof workerOptionsSchema> = {}): WorkerOptions {
  return workerOptionsSchema.parse(partial)
}
