/**
 * Optional timing of handoffs, stage by stage, for the `handoff` benchmark: where the time between
 * an offer and its acceptance goes. Off by default; while off, every hook is one property read.
 *
 * Stamps are wall-clock milliseconds with sub-millisecond resolution (`performance.timeOrigin +
 * performance.now()`), so the stamps two processes take of one handoff can be put side by side.
 * Each process keeps what it saw, by handoff id; the benchmark joins them.
 */

/** One handoff's path, in order. The first stamp of each stage is kept (a resend does not move it). */
export const STAGES = ['queued', 'offerWritten', 'offerReceived', 'answered', 'replyWritten', 'replyReceived', 'accepted'] as const
export type Stage = (typeof STAGES)[number]

/** One tick of one worker: when it started, when its runners' step ended, when its flush ended. */
export interface TickSpan {
  worker: string
  start: number
  /** After `beforeTick` and the runners' step and snapshots; `afterTick` (ghosts, offers) follows. */
  stepped: number
  end: number
}

const now = (): number => performance.timeOrigin + performance.now()

class HandoffTrace {
  enabled = false
  readonly stamps = new Map<string, Partial<Record<Stage, number>>>()
  readonly ticks: TickSpan[] = []

  enable(): void {
    this.enabled = true
    this.stamps.clear()
    this.ticks.length = 0
  }

  now(): number {
    return now()
  }

  mark(handoffId: string, stage: Stage): void {
    let s = this.stamps.get(handoffId)
    if (!s) {
      s = {}
      this.stamps.set(handoffId, s)
    }
    s[stage] ??= now()
  }

  tick(span: TickSpan): void {
    this.ticks.push(span)
    if (this.ticks.length > 20_000) this.ticks.splice(0, 10_000)
  }
}

/** The process's handoff trace (the benchmark enables it). */
export const handoffTrace = new HandoffTrace()
