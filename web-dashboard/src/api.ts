/** The operator API as the dashboard calls it: typed reads and actions, errors as `ApiCallError`. */
import type { ActionResult, ApiErrorBody, ClusterSummary, WorldDetail } from '../../core/api/types.ts'
import { globalPartitionId } from '../../core/api/types.ts'

export class ApiCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message)
    this.name = 'ApiCallError'
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false
  const e = (v as { error: unknown }).error
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string'
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response
  try {
    res = await fetch(`api/v1${path}`, { ...init, headers: { accept: 'application/json' } })
  } catch {
    throw new ApiCallError('the coordinator does not answer', 0, 'unreachable')
  }
  const body: unknown = await res.json().catch(() => undefined)
  if (!res.ok) {
    if (isErrorBody(body)) throw new ApiCallError(body.error.message, res.status, body.error.code)
    throw new ApiCallError(`HTTP ${res.status}`, res.status, 'http')
  }
  return body as T
}

export const api = {
  cluster: (): Promise<ClusterSummary> => call('/cluster'),
  world: (id: string): Promise<WorldDetail> => call(`/worlds/${encodeURIComponent(id)}`),
  drain: (workerId: string): Promise<ActionResult> => call(`/workers/${encodeURIComponent(workerId)}/drain`, { method: 'POST' }),
  partition: (action: PartitionAction, worldId: string, partitionId: string): Promise<ActionResult> =>
    call(`/partitions/${encodeURIComponent(globalPartitionId(worldId, partitionId))}/${action}`, { method: 'POST' }),
  rebalancing: (action: 'pause' | 'resume'): Promise<ActionResult> => call(`/rebalancing/${action}`, { method: 'POST' }),
}

export type PartitionAction = 'split' | 'merge' | 'pin' | 'unpin'
