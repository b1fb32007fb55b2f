/**
 * JSON schemas of the operator API's shapes (mirroring `core/api/types.ts`). They validate input,
 * drive response serialization, and become the OpenAPI document's components. Objects allow
 * additional properties so a field added to the types is passed through rather than dropped
 * before its schema catches up.
 */
import { apiErrorCodes } from '../../core/api/types.ts'

const num = { type: 'number' } as const
const int = { type: 'integer' } as const
const str = { type: 'string' } as const
const bool = { type: 'boolean' } as const
const nullableNum = { type: ['number', 'null'] } as const
const nullableStr = { type: ['string', 'null'] } as const
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const

const object = (properties: Record<string, unknown>, required: string[], description?: string) => ({
  type: 'object',
  ...(description === undefined ? {} : { description }),
  properties,
  required,
  additionalProperties: true,
})

export const rectSchema = {
  $id: 'Rect',
  ...object({ minX: num, minY: num, maxX: num, maxY: num }, ['minX', 'minY', 'maxX', 'maxY']),
}
const rect = { $ref: 'Rect#' }

export const workerSchema = {
  $id: 'Worker',
  ...object(
    {
      id: str,
      clientUrl: str,
      grpcAddress: str,
      version: str,
      labels: stringMap,
      region: str,
      draining: bool,
      capacity: { type: 'number', description: 'Load budget, ms of simulation per second.' },
      load: { type: 'number', description: 'Reported load, ms of simulation per second (smoothed).' },
      loadRatio: num,
      partitions: int,
      rooms: int,
      clients: int,
      entities: int,
      lastReportAgeMs: { ...nullableNum, description: 'ms since the last load report; null when it never reported.' },
    },
    ['id', 'clientUrl', 'grpcAddress', 'version', 'labels', 'draining', 'capacity', 'load', 'loadRatio', 'partitions', 'rooms', 'clients', 'entities', 'lastReportAgeMs'],
  ),
}

const worldSummaryProperties = {
  id: str,
  kind: { type: 'string', enum: ['world', 'room'] },
  bounds: rect,
  mode: str,
  maxPlayers: int,
  partitions: int,
  entities: int,
  clients: int,
  mapVersion: { type: 'integer', description: 'The partition map version (grows with every change).' },
  createdAt: num,
}
const worldSummaryRequired = ['id', 'kind', 'bounds', 'partitions', 'entities', 'clients', 'mapVersion', 'createdAt']

export const worldSummarySchema = { $id: 'WorldSummary', ...object(worldSummaryProperties, worldSummaryRequired) }

export const clusterSummarySchema = {
  $id: 'ClusterSummary',
  ...object(
    {
      self: object({ id: str, leading: bool }, ['id', 'leading'], 'The coordinator that answered.'),
      leader: { ...object({ id: str, apiUrl: str }, ['id', 'apiUrl']), type: ['object', 'null'] },
      paused: bool,
      workers: { type: 'array', items: { $ref: 'Worker#' } },
      worlds: { type: 'array', items: { $ref: 'WorldSummary#' } },
      totals: object(
        { workers: int, draining: int, worlds: int, rooms: int, partitions: int, entities: int, clients: int, load: num, capacity: num },
        ['workers', 'draining', 'worlds', 'rooms', 'partitions', 'entities', 'clients', 'load', 'capacity'],
      ),
      workersWanted: { type: 'integer', description: 'Workers wanted beyond the live ones (> 0: add; < 0: could remove).' },
    },
    ['self', 'leader', 'paused', 'workers', 'worlds', 'totals', 'workersWanted'],
  ),
}

const partitionLoad = object(
  {
    tickCostMs: num,
    entities: int,
    clients: int,
    bytesOutPerS: num,
    summary: { type: 'array', items: object({ rect, weight: num }, ['rect', 'weight']) },
  },
  ['tickCostMs', 'entities', 'clients', 'bytesOutPerS', 'summary'],
)

export const worldDetailSchema = {
  $id: 'WorldDetail',
  ...object(
    {
      spec: object({ ...worldSummaryProperties, labels: stringMap, region: str }, [...worldSummaryRequired, 'labels']),
      partitions: {
        type: 'array',
        items: object(
          {
            id: { type: 'string', description: '{worldId}:{partitionId}' },
            worldId: str,
            partitionId: str,
            rect,
            owner: nullableStr,
            epoch: int,
            pinned: bool,
            mergeableWith: nullableStr,
            load: { ...partitionLoad, type: ['object', 'null'] },
          },
          ['id', 'worldId', 'partitionId', 'rect', 'owner', 'epoch', 'pinned', 'mergeableWith', 'load'],
        ),
      },
      splits: {
        type: 'array',
        items: object({ id: str, axis: { type: 'string', enum: ['x', 'y'] }, at: num, rect }, ['id', 'axis', 'at', 'rect']),
      },
    },
    ['spec', 'partitions', 'splits'],
  ),
}

/** Documents the `data:` of each server-sent event; the stream itself is not serialized by schema. */
export const clusterEventSchema = {
  $id: 'ClusterEvent',
  ...object(
    {
      seq: { type: 'integer', description: 'The SSE id; a reconnect resumes after it.' },
      at: num,
      type: { type: 'string', enum: ['map', 'decision', 'membership', 'leadership', 'operator', 'load'] },
      message: str,
      worldId: str,
      partitionId: str,
      workerId: str,
      epoch: int,
      details: { type: 'object', additionalProperties: true },
    },
    ['seq', 'at', 'type', 'message'],
  ),
}

export const actionResultSchema = {
  $id: 'ActionResult',
  ...object({ ok: { type: 'boolean', enum: [true] }, message: str }, ['ok', 'message']),
}

export const apiErrorSchema = {
  $id: 'ApiError',
  ...object(
    { error: object({ code: { type: 'string', enum: Object.keys(apiErrorCodes) }, message: str }, ['code', 'message']) },
    ['error'],
  ),
}

/** Every shared schema, registered with `app.addSchema` before the routes that refer to them. */
export const sharedSchemas = [
  rectSchema,
  workerSchema,
  worldSummarySchema,
  clusterSummarySchema,
  worldDetailSchema,
  clusterEventSchema,
  actionResultSchema,
  apiErrorSchema,
]

const errorRef = { $ref: 'ApiError#' }

/** Error answers a route can give, for its `response` schema. */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = { 400: errorRef, 500: errorRef }
  for (const status of statuses) out[status] = errorRef
  return out
}
