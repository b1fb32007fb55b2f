/**
 * The latest load each worker reported, held by the leader (reports stream in over gRPC every
 * report interval and never touch the store). Reports older than `staleAfterMs` no longer count: a worker
 * that stopped reporting but still holds its lease is treated as having no measured load.
 *
 * It also remembers, per partition, which report was the first at the partition's current epoch.
 * That first report under-reads: a worker starts a partition it was just given (moved, split or
 * merged) empty, and its entities arrive by handoff during the window the report measures, so the
 * figure can be a small part of the partition's real cost. Planning from it made the leader believe
 * a crowd's new pieces were light and pile more onto their owners (see `measuredWholeWindow`).
 */
import type { PartitionLoad as PartitionLoadReport, ReportLoadRequest } from '../proto/gen/tessera/v1/coordinator.ts'

export interface WorkerReport {
  workerId: string
  seq: number
  receivedAt: number
  report: ReportLoadRequest
  /** Per partition of the report (`worldId/partitionId`): the seq of this worker's first report of it at its current epoch. */
  firstSeqAtEpoch: ReadonlyMap<string, { epoch: number; seq: number }>
}

/**
 * Whether `p`, a partition of `r`, was measured over a whole report interval at its current epoch:
 * false for the first report of a partition at a new epoch (its window covers the handover that
 * filled it).
 */
export function measuredWholeWindow(r: WorkerReport, p: PartitionLoadReport): boolean {
  const ref = p.partition
  if (!ref) return false
  const first = r.firstSeqAtEpoch.get(`${ref.worldId}/${ref.partitionId}`)
  return first !== undefined && first.epoch === ref.epoch && first.seq < r.seq
}

export class LoadTable {
  private readonly byWorker = new Map<string, WorkerReport>()

  constructor(
    private readonly staleAfterMs = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records a report; returns false for a duplicate or out-of-order one (seq not newer). */
  accept(report: ReportLoadRequest): boolean {
    const prev = this.byWorker.get(report.workerId)
    // A restarted worker process starts its seq again from 1: a much lower seq is a new process.
    if (prev && report.seq <= prev.seq && report.seq > 1) return false
    // A new process (seq back to 1) starts every partition afresh.
    const carried = prev && report.seq > prev.seq ? prev.firstSeqAtEpoch : undefined
    const firstSeqAtEpoch = new Map<string, { epoch: number; seq: number }>()
    for (const p of report.partitions) {
      if (!p.partition) continue
      const k = `${p.partition.worldId}/${p.partition.partitionId}`
      const before = carried?.get(k)
      firstSeqAtEpoch.set(k, before && before.epoch === p.partition.epoch ? before : { epoch: p.partition.epoch, seq: report.seq })
    }
    this.byWorker.set(report.workerId, { workerId: report.workerId, seq: report.seq, receivedAt: this.now(), report, firstSeqAtEpoch })
    return true
  }

  /** Fresh reports only. */
  get(workerId: string): WorkerReport | undefined {
    const r = this.byWorker.get(workerId)
    return r && this.now() - r.receivedAt <= this.staleAfterMs ? r : undefined
  }

  /** Fresh reports of every worker. */
  fresh(): WorkerReport[] {
    const now = this.now()
    return [...this.byWorker.values()].filter((r) => now - r.receivedAt <= this.staleAfterMs)
  }

  ageMs(workerId: string): number | null {
    const r = this.byWorker.get(workerId)
    return r ? this.now() - r.receivedAt : null
  }

  forget(workerId: string): void {
    this.byWorker.delete(workerId)
  }

  clear(): void {
    this.byWorker.clear()
  }
}
