/**
 * Optional timing of handoffs, stage by stage, for the `handoff` benchmark: where the time between
 * an offer and its acceptance goes. Off by default; while off, every hook is one property read.
 *
 * Stamps are wall-clock milliseconds with sub-millisecond resolution (`performance.timeOrigin +
 * performance.now()`), so the stamps two processes take of one handoff can be put side by side.
 * Each process keeps what it saw, by handoff id; the benchmark joins them.
 */
import { readFileSync } from 'node:fs'

/** One handoff's path, in order. The first stamp of each stage is kept (a resend does not move it). */
export const STAGES = ['queued', 'offerWritten', 'offerReceived', 'answered', 'replyWritten', 'replyReceived', 'accepted'] as const
export type Stage = (typeof STAGES)[number]

/**
 * One stretch of work on the event loop: a worker's tick (`worker` is its id), or its handling of
 * a batch of neighbour frames (`worker` is `<id>:frames`).
 */
export interface TickSpan {
  worker: string
  start: number
  /** After `beforeTick` and the runners' step and snapshots; `afterTick` (ghosts, offers) follows. */
  stepped: number
  /** After `afterTick`; the links' flush follows. */
  bordered: number
  end: number
}

const now = (): number => performance.timeOrigin + performance.now()

/** Main-thread time on a CPU and waiting in the run queue, ms (Linux; process CPU time elsewhere). */
export interface SchedStat {
  onCpu: number
  waiting: number
}

function schedStat(): SchedStat {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')
    return { onCpu: Number(run) / 1e6, waiting: Number(wait) / 1e6 }
  } catch {
    const u = process.cpuUsage()
    return { onCpu: (u.user + u.system) / 1000, waiting: 0 }
  }
}

class HandoffTrace {
  enabled = false
  readonly stamps = new Map<string, Partial<Record<Stage, number>>>()
  readonly ticks: TickSpan[] = []
  /**
   * The main thread's scheduler figures when each handoff was queued and accepted (Linux
   * `/proc/thread-self/schedstat`, ms): time on a CPU, and time runnable but waiting for one. The
   * wait is exact between two stamps taken while running; the CPU time lags by up to a scheduler
   * tick (it is brought up to date at context switches), so the bench does not use it.
   */
  readonly cpu = new Map<string, { queued?: SchedStat; accepted?: SchedStat }>()

  enable(): void {
    this.enabled = true
    this.stamps.clear()
    this.ticks.length = 0
    this.cpu.clear()
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
    // Reading schedstat takes ~0.1 ms: before the first stamp and after the last, outside the
    // handoff's time (the callers stamp `queued` before they start the clock and `accepted` after
    // they stop it).
    if (stage === 'queued') this.sched(handoffId, stage)
    s[stage] ??= now()
    if (stage === 'accepted') this.sched(handoffId, stage)
  }

  private sched(handoffId: string, stage: 'queued' | 'accepted'): void {
    const c = this.cpu.get(handoffId) ?? {}
    c[stage] ??= schedStat()
    this.cpu.set(handoffId, c)
  }

  tick(span: TickSpan): void {
    this.ticks.push(span)
    if (this.ticks.length > 20_000) this.ticks.splice(0, 10_000)
  }
}

/** The process's handoff trace (the benchmark enables it). */
export const handoffTrace = new HandoffTrace()
