/**
 * The latest load each worker reported, held by the leader (reports stream in over gRPC about once
 * a second and never touch the store). Reports older than `staleAfterMs` no longer count: a worker
 * that stopped reporting but still holds its lease is treated as having no measured load.
 */
import type { ReportLoadRequest } from '../proto/gen/tessera/v1/coordinator.ts'

export interface WorkerReport {
  workerId: string
  seq: number
  receivedAt: number
  report: ReportLoadRequest
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
    this.byWorker.set(report.workerId, { workerId: report.workerId, seq: report.seq, receivedAt: this.now(), report })
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
