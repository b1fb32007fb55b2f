/**
 * Where a tick's wall time goes, tick by tick, in a benchmark's worker process: how late the tick
 * started against its due time, how long the partition's step took on the wall clock, how much of
 * that the main thread spent on a core and how much it waited for one (Linux's per-thread
 * `schedstat`: run and run-queue wait in ns), the process's CPU over the tick (all threads: GC
 * helpers too), and the garbage collections that overlapped it. Also the time spent in the
 * worker's border work after the step and in the players' inputs between ticks.
 *
 * Used by `world-scale --tick-trace DIR`; everything is read from outside the worker (wrapped
 * methods), nothing in the worker changes.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
import type { EntryType, PerformanceEntry } from 'node:perf_hooks'

export interface TickRecord {
  /** Tick number. */
  tick: number
  /** Start of the worker's tick, ms on the shared wall clock (`performance.timeOrigin + now`). */
  atMs: number
  /** How late the worker's tick started against its due time. */
  lagMs: number
  /** The partition's step (what the benchmark's tick p99 is of), wall time. */
  stepMs: number
  /** Of the step: main thread on a core, and waiting in the run queue. */
  stepRunMs: number
  stepWaitMs: number
  /** Process CPU (user + system, every thread) during the step. */
  stepCpuMs: number
  /** Border work and link flush after the step, wall time. */
  afterMs: number
  /** Start of the step, same clock as `atMs`. */
  stepAtMs: number
  /** Garbage collection overlapping the step (main-thread pauses), ms. */
  stepGcMs: number
}

export interface GcRecord {
  atMs: number
  ms: number
  kind: number
}

export interface TraceWindow {
  ticks: TickRecord[]
  gcs: GcRecord[]
  /** The inputs' ticker: each round's start and duration (ms). */
  inputs: { atMs: number; ms: number }[]
  /** The main thread over the window: on a core, waiting for one (ms). */
  runMs: number
  waitMs: number
  /** CPU (ms) of the process's threads over the window, by thread name (V8 helpers, libuv, native libraries). */
  threads: Record<string, number>
}

/** Every thread's name and its time on a core so far (ms, `/proc/self/task/*`); empty off Linux. */
function threadTimes(): Map<string, number> {
  const out = new Map<string, number>()
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const name = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim()
        const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0])
        out.set(`${name}/${tid}`, ns / 1e6)
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return out
}

/** Reads the calling thread's `schedstat` (run ns, wait ns); zeros where there is none. */
class SchedStat {
  private fd: number | undefined
  private readonly buf = Buffer.alloc(128)

  constructor() {
    try {
      this.fd = openSync('/proc/thread-self/schedstat', 'r')
    } catch {
      this.fd = undefined
    }
  }

  /** [on a core, waiting] in ms since boot. */
  read(out: [number, number]): void {
    if (this.fd === undefined) {
      out[0] = 0
      out[1] = 0
      return
    }
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0)
    const parts = this.buf.toString('latin1', 0, n).split(' ')
    out[0] = Number(parts[0]) / 1e6
    out[1] = Number(parts[1]) / 1e6
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

interface Traced {
  tick(): void
}

interface LoopInternals {
  options: { onTick: (tick: number) => void }
  stepper: { stepMs: number; originMs: number; ran: number; tick: number } | null
}

/** When `tick` was due on the loop's clock (`performance.now`), from the loop's stepper. */
function dueMs(l: LoopInternals, tick: number, fallback: number): number {
  const s = l.stepper
  // Tick numbers and `ran` grow together, so the tick's index from the (possibly rebased) origin is its number's offset.
  return s ? s.originMs + (tick - (s.tick - s.ran)) * s.stepMs : fallback
}

/**
 * Records, for every tick of the worker's loop, how long after its due time the worker's tick
 * ended (clear the array at a window's start): what a player sees of a late tick, whether it was
 * late to start (the loop behind its schedule, catching up) or slow to run. The tick loop's own
 * overrun statistics only count ticks dropped.
 */
export function timeLateness(loop: unknown): number[] {
  const l = loop as LoopInternals
  const late: number[] = []
  const onTick = l.options.onTick
  l.options.onTick = (tick) => {
    const due = dueMs(l, tick, performance.now())
    onTick(tick)
    late.push(performance.now() - due)
  }
  return late
}

/**
 * Wraps the worker's tick loop callback and the runner's `tick` to record every tick while a
 * window is open. `loop` is the worker's `TickLoop` (read through its internals: this is a probe).
 */
export class TickTracer {
  private readonly sched = new SchedStat()
  private open = false
  private ticks: TickRecord[] = []
  private gcs: GcRecord[] = []
  private inputs: { atMs: number; ms: number }[] = []
  private readonly observer: PerformanceObserver
  private readonly a: [number, number] = [0, 0]
  private readonly b: [number, number] = [0, 0]
  private windowStart: [number, number] = [0, 0]
  private threadsStart = new Map<string, number>()
  private current: TickRecord | undefined

  constructor(loop: unknown, runner: Traced) {
    const l = loop as LoopInternals
    const onTick = l.options.onTick
    const origin = performance.timeOrigin
    l.options.onTick = (tick) => {
      if (!this.open) return onTick(tick)
      const t0 = performance.now()
      const due = dueMs(l, tick, t0)
      const rec: TickRecord = { tick, atMs: origin + t0, lagMs: t0 - due, stepMs: 0, stepRunMs: 0, stepWaitMs: 0, stepCpuMs: 0, afterMs: 0, stepAtMs: 0, stepGcMs: 0 }
      this.current = rec
      onTick(tick)
      const t1 = performance.now()
      rec.afterMs = Math.max(0, t1 - t0 - rec.stepMs)
      this.ticks.push(rec)
      this.current = undefined
    }
    const step = runner.tick.bind(runner)
    runner.tick = () => {
      const rec = this.current
      if (!this.open || rec === undefined) return step()
      this.sched.read(this.a)
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      step()
      const t1 = performance.now()
      const cpu = process.cpuUsage(cpu0)
      this.sched.read(this.b)
      rec.stepAtMs = performance.timeOrigin + t0
      rec.stepMs = t1 - t0
      rec.stepRunMs = this.b[0] - this.a[0]
      rec.stepWaitMs = this.b[1] - this.a[1]
      rec.stepCpuMs = (cpu.user + cpu.system) / 1000
    }
    this.observer = new PerformanceObserver((list) => {
      if (!this.open) return
      for (const e of list.getEntries() as PerformanceEntry[]) {
        const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0
        this.gcs.push({ atMs: origin + e.startTime, ms: e.duration, kind })
      }
    })
    this.observer.observe({ entryTypes: ['gc' as EntryType] })
  }

  /** Time one round of the players' inputs (between ticks). */
  timeInputs(fn: () => void): void {
    if (!this.open) return fn()
    const t0 = performance.now()
    fn()
    this.inputs.push({ atMs: performance.timeOrigin + t0, ms: performance.now() - t0 })
  }

  begin(): void {
    this.ticks = []
    this.gcs = []
    this.inputs = []
    this.sched.read(this.windowStart)
    this.threadsStart = threadTimes()
    this.open = true
  }

  end(): TraceWindow {
    this.open = false
    const now: [number, number] = [0, 0]
    this.sched.read(now)
    const threads: Record<string, number> = {}
    for (const [key, ms] of threadTimes()) {
      const name = key.slice(0, key.lastIndexOf('/'))
      threads[name] = (threads[name] ?? 0) + ms - (this.threadsStart.get(key) ?? 0)
    }
    // GC overlapping each step.
    for (const t of this.ticks) {
      const s0 = t.stepAtMs
      const s1 = s0 + t.stepMs
      for (const g of this.gcs) if (g.atMs < s1 && g.atMs + g.ms > s0) t.stepGcMs += Math.min(s1, g.atMs + g.ms) - Math.max(s0, g.atMs)
    }
    return { ticks: this.ticks, gcs: this.gcs, inputs: this.inputs, runMs: now[0] - this.windowStart[0], waitMs: now[1] - this.windowStart[1], threads }
  }

  close(): void {
    this.observer.disconnect()
    this.sched.close()
  }
}
