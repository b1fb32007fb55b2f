/**
 * The records Tessera keeps in the cluster store, as JSON validated with zod at every read: a value
 * written by another version or by hand is refused with a clear error instead of crashing a reader.
 */
import { z } from 'zod'

export const rectSchema = z.object({
  minX: z.number().finite(),
  minY: z.number().finite(),
  maxX: z.number().finite(),
  maxY: z.number().finite(),
}).refine((r) => r.maxX > r.minX && r.maxY > r.minY, 'a rectangle needs positive width and height')

const labelsSchema = z.record(z.string(), z.string())

/** `workers/{id}`: a live worker, under the worker's lease. */
export const workerRecordSchema = z.object({
  id: z.string().min(1),
  /** host:port of the worker's gRPC server (neighbour links, transfers). */
  grpcAddress: z.string().min(1),
  /** URL players connect to (geckos.io signalling), e.g. `http://127.0.0.1:9208`. */
  clientUrl: z.string().min(1),
  /** Load budget in ms of simulation per second (1000 = one core). */
  capacity: z.number().positive(),
  version: z.string(),
  labels: labelsSchema.default({}),
  region: z.string().optional(),
  /** A draining worker takes nothing new and is emptied by the planner. */
  draining: z.boolean().default(false),
  startedAt: z.number(),
  /**
   * Where in each tick interval the worker runs its ticks, as a fraction of the interval (tick n is
   * due at the cluster's epoch + (n + tickPhase) × step). Workers spread themselves out.
   */
  tickPhase: z.number().min(0).lt(1).optional(),
})
export type WorkerRecord = z.infer<typeof workerRecordSchema>

/** `worlds/{id}`: a world's spec. A room is a world of one partition with a player cap. */
export const worldSpecSchema = z.object({
  id: z.string().min(1),
  kind: z.enum(['world', 'room']),
  bounds: rectSchema,
  /** Rooms only: players admitted at most. */
  maxPlayers: z.number().int().positive().optional(),
  /** Game mode, free-form ("duel", "lobby"). */
  mode: z.string().optional(),
  labels: labelsSchema.default({}),
  region: z.string().optional(),
  createdAt: z.number(),
})
export type WorldSpec = z.infer<typeof worldSpecSchema>

export class RecordError extends Error {
  readonly code = 'bad_record'
  readonly retryable = false
  constructor(readonly key: string, message: string) {
    super(`bad record at ${key}: ${message}`)
    this.name = 'RecordError'
  }
}

/** Parse and validate a stored JSON record; throws `RecordError` naming the key and the problem. */
export function decodeRecord<T>(schema: z.ZodType<T>, key: string, json: string): T {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    throw new RecordError(key, 'not JSON')
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    throw new RecordError(key, parsed.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; '))
  }
  return parsed.data
}
