/**
 * The operator API's JSON routes: reads of the cluster and worlds, and the operator's actions. Each
 * handler only translates HTTP to one `OperatorBackend` call; the backend decides and may refuse
 * with an `ApiError` (e.g. `not_leader` on a standby).
 */
import type { FastifyInstance } from 'fastify'
import type { ActionResult, ClusterSummary, WorldDetail } from '../../core/api/types.ts'
import { parseGlobalPartitionId } from '../../core/api/types.ts'
import type { OperatorBackend } from './backend.ts'
import { ApiError } from './backend.ts'
import { errorResponses } from './schemas.ts'

/** Ids arrive in paths; bound them so a silly request cannot reach the backend. */
const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['id'],
} as const

interface IdParams {
  id: string
}

const partitionActions = {
  split: { summary: 'Split a partition in two along its longer axis', run: (b: OperatorBackend, w: string, p: string) => b.splitPartition(w, p) },
  merge: { summary: 'Merge a partition with its sibling leaf', run: (b: OperatorBackend, w: string, p: string) => b.mergePartition(w, p) },
  pin: { summary: 'Pin a partition to its owner (the planner leaves it alone)', run: (b: OperatorBackend, w: string, p: string) => b.pinPartition(w, p) },
  unpin: { summary: 'Unpin a partition', run: (b: OperatorBackend, w: string, p: string) => b.unpinPartition(w, p) },
} as const

const rebalancingActions = {
  pause: { summary: 'Pause rebalancing (orphaned partitions are still assigned)', run: (b: OperatorBackend) => b.pauseRebalancing() },
  resume: { summary: 'Resume rebalancing', run: (b: OperatorBackend) => b.resumeRebalancing() },
} as const

/** Actions refused by a standby answer 503 `not_leader`; missing targets 404; impossible ones 409. */
const actionResponses = { 200: { $ref: 'ActionResult#' }, ...errorResponses(404, 409, 413, 503) }

export function registerRoutes(app: FastifyInstance, backend: OperatorBackend): void {
  app.get(
    '/api/v1/cluster',
    {
      schema: {
        tags: ['cluster'],
        summary: 'Workers with load and capacity, worlds, totals and wanted workers',
        response: { 200: { $ref: 'ClusterSummary#' }, ...errorResponses(503) },
      },
    },
    async (): Promise<ClusterSummary> => backend.cluster(),
  )

  app.get<{ Params: IdParams }>(
    '/api/v1/worlds/:id',
    {
      schema: {
        tags: ['cluster'],
        summary: "A world's spec and partition map with owners, epochs and loads",
        params: idParams,
        response: { 200: { $ref: 'WorldDetail#' }, ...errorResponses(404, 503) },
      },
    },
    async (req): Promise<WorldDetail> => {
      const world = backend.world(req.params.id)
      if (!world) throw new ApiError('not_found', `no world "${req.params.id}"`)
      return world
    },
  )

  app.post<{ Params: IdParams }>(
    '/api/v1/workers/:id/drain',
    {
      schema: {
        tags: ['actions'],
        summary: "Drain a worker: move its partitions away and give it no new ones",
        params: idParams,
        response: actionResponses,
      },
    },
    async (req): Promise<ActionResult> => backend.drainWorker(req.params.id),
  )

  for (const [action, { summary, run }] of Object.entries(partitionActions)) {
    app.post<{ Params: IdParams }>(
      `/api/v1/partitions/:id/${action}`,
      {
        schema: {
          tags: ['actions'],
          summary,
          params: {
            ...idParams,
            properties: { id: { ...idParams.properties.id, description: '{worldId}:{partitionId}; the colon may be URL-encoded' } },
          },
          response: actionResponses,
        },
      },
      async (req): Promise<ActionResult> => {
        const parsed = parseGlobalPartitionId(req.params.id)
        if (!parsed) throw new ApiError('bad_request', `partition id "${req.params.id}" is not {worldId}:{partitionId}`)
        return run(backend, parsed.worldId, parsed.partitionId)
      },
    )
  }

  for (const [action, { summary, run }] of Object.entries(rebalancingActions)) {
    app.post(
      `/api/v1/rebalancing/${action}`,
      { schema: { tags: ['actions'], summary, response: actionResponses } },
      async (): Promise<ActionResult> => run(backend),
    )
  }
}
