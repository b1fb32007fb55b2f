/** The coordinator's options: one schema, parsed once in `tessera coordinator`'s main. */
import { z } from 'zod'
import { opt } from '../core/config.ts'

export const coordinatorOptionsSchema = z.object({
  /** This coordinator's id. Default `coordinator-<pid>`. */
  id: z.string().min(1).default(`coordinator-${process.pid}`),
  /** etcd endpoints; empty means the in-memory store (embedded mode only). */
  etcdEndpoints: opt.list().default([]),
  /** Key prefix of the cluster in the store. Default `/tessera/`. */
  keyPrefix: z.string().min(1).default('/tessera/'),
  grpcHost: z.string().default('127.0.0.1'),
  /** gRPC port for load reports and room placement; 0 picks a free one. Default 7071. */
  grpcPort: opt.port().default(7071),
  /** Address workers and gateways should use, if not the bound one. */
  advertiseGrpc: z.string().optional(),
  httpHost: z.string().default('127.0.0.1'),
  /** Operator API and dashboard port. Default 7070. */
  httpPort: opt.port().default(7070),
  advertiseApi: z.string().optional(),
  /**
   * Planning interval, ms. Default 500: with load reports every 500 ms too, the leader answers a
   * crowd from a picture at most about a second old (docs/bench-hotspot.md); a round of the planner
   * costs ~22 ms at 10,000 partitions (docs/bench-planner.md). The planner's cooldowns are set in
   * seconds, so they do not shrink with the interval.
   */
  rebalanceIntervalMs: opt.int().min(50).default(500),
  /** Leadership lease TTL, seconds. Default 3. */
  leaseTtlSeconds: opt.int().min(1).default(3),
  /** A worker's load report counts for this long, ms. Default 5000. */
  reportStaleMs: opt.int().min(100).default(5000),
  placementStrategy: z.enum(['distributed', 'packed']).default('distributed'),
  roomBaseCostMs: opt.number().min(0).default(2),
  roomPlayerCostMs: opt.number().min(0).default(0.5),
  /** Side of a room's square world, in world units. Default 1000. */
  roomSize: opt.number().positive().default(1000),
  /** Planner parameters (see docs/partitioning.md); a JSON object in the config file. */
  planner: z.record(z.string(), z.unknown()).default({}),
  /** Built dashboard to serve at `/`. */
  dashboardDir: z.string().optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
})

export type CoordinatorOptions = z.infer<typeof coordinatorOptionsSchema>

/** Defaults for everything not given (tests and embedded mode build options this way). */
export function coordinatorOptions(partial: z.input<typeof coordinatorOptionsSchema> = {}): CoordinatorOptions {
  return coordinatorOptionsSchema.parse(partial)
}
