/**
 * Fixed-step tick loop. The tick number is the authority: tick n is due at `origin + n × step` on a
 * monotonic clock, computed by multiplication so no rounding accumulates. When the loop falls
 * behind it runs up to `maxCatchUpTicks` at once; beyond that it drops the backlog and reports an
 * overrun instead of silently stretching time: by default moving the origin forward, so tick
 * numbers stay contiguous; on a shared clock (`start(epochMs)`) skipping the dropped numbers, so
 * tick n stays due at `epoch + n × step` and every process numbering ticks from that epoch agrees
 * on what tick it is.
 *
 * `TickStepper` is the pure core (`advance(now) → ticks to run`); `TickLoop` drives it with an
 * injectable clock and scheduler.
 */

export interface TickStepperOptions {
  /** Ticks per second (default 20). */
  tickRate?: number
  /** Most ticks run back to back to catch up (default 5). */
  maxCatchUpTicks?: number
  /** Clock time of tick `startTick` (ms). */
  startMs: number
  /** First tick number (default 0). */
  startTick?: number
  /**
   * On an overrun, skip the dropped tick numbers (numbers stay tied to the clock) instead of moving
   * the origin (numbers stay contiguous). Default false.
   */
  skipDropped?: boolean
}

export interface OverrunStats {
  /** Times the backlog exceeded the catch-up bound. */
  overruns: number
  /** Ticks' worth of time dropped in total. */
  droppedTicks: number
  /** Largest lag seen behind the schedule, in ms. */
  maxLagMs: number
}

export class TickStepper {
  readonly stepMs: number
  private readonly maxCatchUp: number
  private originMs: number
  /** Ticks run since the origin. */
  private ran = 0
  private tickValue: number
  private readonly skipDropped: boolean
  private readonly over: OverrunStats = { overruns: 0, droppedTicks: 0, maxLagMs: 0 }

  constructor(options: TickStepperOptions) {
    const rate = options.tickRate ?? 20
    if (!(rate > 0 && rate <= 1000)) throw new RangeError('tickRate must be in (0, 1000]')
    this.stepMs = 1000 / rate
    this.maxCatchUp = Math.max(1, options.maxCatchUpTicks ?? 5)
    this.originMs = options.startMs
    this.tickValue = options.startTick ?? 0
    this.skipDropped = options.skipDropped ?? false
  }

  /** The next tick number to run. */
  get tick(): number {
    return this.tickValue
  }

  /** When the next tick is due (ms, same clock as `advance`). */
  get nextDueMs(): number {
    return this.originMs + this.ran * this.stepMs
  }

  get overrun(): Readonly<OverrunStats> {
    return this.over
  }

  /**
   * How many ticks to run now (0 … maxCatchUpTicks). The caller runs exactly that many, in order;
   * the tick counter has already moved past them.
   */
  advance(nowMs: number): number {
    const due = Math.floor((nowMs - this.originMs) / this.stepMs) + 1
    let pending = due - this.ran
    if (pending <= 0) return 0
    const lag = nowMs - this.nextDueMs
    if (lag > this.over.maxLagMs) this.over.maxLagMs = lag
    if (pending > this.maxCatchUp) {
      const dropped = pending - this.maxCatchUp
      this.over.overruns++
      this.over.droppedTicks += dropped
      if (this.skipDropped) {
        // The dropped numbers are never run: the ticks run now are the newest ones.
        this.ran += dropped
        this.tickValue += dropped
      } else {
        // Rebase rather than keep a growing `ran` offset: the schedule restarts from the kept ticks.
        this.originMs += dropped * this.stepMs
      }
      pending = this.maxCatchUp
    }
    this.ran += pending
    this.tickValue += pending
    return pending
  }
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number
}

export interface Scheduler {
  /** Call `fn` after about `delayMs`; returns a cancel function. */
  schedule(fn: () => void, delayMs: number): () => void
}

export const monotonicClock: Clock = { now: () => performance.now() }

/**
 * The default: `setTimeout` rounded down to whole milliseconds, then `setImmediate` for the rest
 * (timers cannot resolve under a millisecond), so a tick starts within microseconds of its due
 * time. The last millisecond or so before each tick is spent turning the event loop (some 550
 * turns a tick, each allocating): an idle loop at 20 Hz uses 2.0% of a core instead of 0.8%, and
 * in the `handoff` benchmark the process collects 48 times a minute instead of 34. The loop stays
 * on a CPU and answers I/O at once meanwhile: alternated runs of that benchmark (six each, 2
 * virtual CPUs) had a handoff p99 of 4.5–7.0 ms (four at or under 5) spinning, 5.4–8.4 ms (none)
 * asleep.
 */
export const timerScheduler: Scheduler = {
  schedule(fn, delayMs) {
    if (delayMs < 1) {
      const h = setImmediate(fn)
      return () => clearImmediate(h)
    }
    const h = setTimeout(fn, Math.floor(delayMs))
    return () => clearTimeout(h)
  },
}

/**
 * Waiting asleep: `setImmediate` only for what is due already, otherwise `setTimeout` rounded up
 * to whole milliseconds, so a tick starts up to about a millisecond after it is due. A timer can
 * still fire a little early (Node times it from the event loop's cached clock): the loop then
 * finds nothing due and waits again, for at least a millisecond. About one wake-up a tick.
 */
export const sleepingScheduler: Scheduler = {
  schedule(fn, delayMs) {
    if (delayMs <= 0) {
      const h = setImmediate(fn)
      return () => clearImmediate(h)
    }
    const h = setTimeout(fn, Math.ceil(delayMs))
    return () => clearTimeout(h)
  },
}

export interface TickLoopOptions {
  /** Ticks per second (default 20). */
  tickRate?: number
  /** Most ticks run back to back to catch up (default 5). */
  maxCatchUpTicks?: number
  /** First tick number (default 0). Ignored by `start(epochMs)`, which numbers ticks from the epoch. */
  startTick?: number
  /**
   * Wall-clock time (ms since the Unix epoch) minus `clock.now()`, to put ticks on a shared
   * epoch. Default `performance.timeOrigin`, which turns the default monotonic clock into
   * wall-clock time as of the process's start.
   */
  wallOffsetMs?: number
  /** Runs one tick. Errors are the caller's to handle: a throw stops the loop and reaches `onError`. */
  onTick: (tick: number) => void
  /** Called after an `advance` that dropped ticks. */
  onOverrun?: (stats: Readonly<OverrunStats>) => void
  onError?: (err: unknown) => void
  clock?: Clock
  scheduler?: Scheduler
}

export class TickLoop {
  private stepper: TickStepper | null = null
  private cancel: (() => void) | null = null
  private running = false
  private readonly clock: Clock
  private readonly scheduler: Scheduler

  constructor(private readonly options: TickLoopOptions) {
    this.clock = options.clock ?? monotonicClock
    this.scheduler = options.scheduler ?? timerScheduler
  }

  /** The next tick number to run (the start tick before `start`). */
  get tick(): number {
    return this.stepper?.tick ?? this.options.startTick ?? 0
  }

  get overrun(): Readonly<OverrunStats> {
    return this.stepper?.overrun ?? { overruns: 0, droppedTicks: 0, maxLagMs: 0 }
  }

  /**
   * Start ticking. With `epochMs` (wall-clock ms of tick 0, shared by the cluster) tick n is due at
   * `epochMs + n × step`: the first tick run is the next one due, and processes started on that
   * epoch agree on tick numbers (to within their clocks' disagreement). Without it, numbering goes
   * on from where it stopped (or `startTick`), due from now.
   */
  start(epochMs?: number): void {
    if (this.running) return
    this.running = true
    const now = this.clock.now()
    const opts: TickStepperOptions = { startMs: now }
    if (this.options.tickRate !== undefined) opts.tickRate = this.options.tickRate
    if (this.options.maxCatchUpTicks !== undefined) opts.maxCatchUpTicks = this.options.maxCatchUpTicks
    if (epochMs === undefined) {
      opts.startTick = this.stepper?.tick ?? this.options.startTick ?? 0
    } else {
      const stepMs = 1000 / (this.options.tickRate ?? 20)
      const wallOffset = this.options.wallOffsetMs ?? performance.timeOrigin
      // The first tick due at or after now (never before the epoch, and never a number already run).
      let first = Math.max(0, Math.ceil((now + wallOffset - epochMs) / stepMs))
      if (this.stepper !== null) first = Math.max(first, this.stepper.tick)
      opts.startTick = first
      opts.startMs = epochMs + first * stepMs - wallOffset
      opts.skipDropped = true
    }
    this.stepper = new TickStepper(opts)
    this.wake()
  }

  /** Stop after the current tick; no callback runs afterwards. */
  stop(): void {
    this.running = false
    this.cancel?.()
    this.cancel = null
  }

  private readonly wake = (): void => {
    this.cancel = null
    const stepper = this.stepper
    if (!this.running || stepper === null) return
    const before = stepper.overrun.overruns
    const n = stepper.advance(this.clock.now())
    const first = stepper.tick - n
    try {
      for (let k = 0; k < n && this.running; k++) this.options.onTick(first + k)
    } catch (err) {
      this.stop()
      this.options.onError?.(err)
      return
    }
    if (stepper.overrun.overruns !== before) this.options.onOverrun?.(stepper.overrun)
    if (!this.running) return
    this.cancel = this.scheduler.schedule(this.wake, Math.max(0, stepper.nextDueMs - this.clock.now()))
  }
}
