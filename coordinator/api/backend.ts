/**
 * What the operator API needs from the coordinator. The HTTP layer (`coordinator/api/`) is a thin
 * shell over this interface; the coordinator service implements it, and tests can implement it too.
 */
import type {
  ActionResult,
  ApiErrorCode,
  ClusterEvent,
  ClusterSummary,
  WorldDetail,
} from '../../core/api/types.ts'

export interface EventFeed {
  /** Events with `seq > afterSeq` still held (a bounded ring), oldest first. */
  recent(afterSeq?: number): ClusterEvent[]
  /** Calls `listener` for every new event until the returned function is called. */
  subscribe(listener: (event: ClusterEvent) => void): () => void
}

export interface OperatorBackend {
  cluster(): ClusterSummary
  /** undefined when no such world exists. */
  world(worldId: string): WorldDetail | undefined
  readonly events: EventFeed
  /** Actions change the cluster; only the leader performs them (others throw `not_leader`). */
  drainWorker(workerId: string): Promise<ActionResult>
  splitPartition(worldId: string, partitionId: string): Promise<ActionResult>
  mergePartition(worldId: string, partitionId: string): Promise<ActionResult>
  pinPartition(worldId: string, partitionId: string): Promise<ActionResult>
  unpinPartition(worldId: string, partitionId: string): Promise<ActionResult>
  pauseRebalancing(): Promise<ActionResult>
  resumeRebalancing(): Promise<ActionResult>
}

/** An error the API answers with `{ error: { code, message } }` and the code's HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}
