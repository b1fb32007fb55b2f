import { describe, expect, it } from 'vitest'
import { sleepingScheduler, TickLoop, TickStepper } from '../../worker/tick-loop.ts'
import type { Clock, Scheduler } from '../../worker/tick-loop.ts'

/** A manual clock and scheduler: time only moves when the test moves it. */
class FakeTime implements Clock, Scheduler {
  t = 0
  private pending: { at: number; fn: () => void } | null = null
  now(): number {
    return this.t
  }
  schedule(fn: () => void, delayMs: number): () => void {
    const entry = { at: this.t + delayMs, fn }
    this.pending = entry
    return () => {
      if (this.pending === entry) this.pending = null
    }
  }
  /** Fire the pending callback at its time plus `late` ms. */
  fire(late = 0): boolean {
    const p = this.pending
    if (p === null) return false
    this.pending = null
    this.t = Math.max(this.t, p.at + late)
    p.fn()
    return true
  }
}

function jitter(seed: number): () => number {
  let s = seed
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 2 ** 32
  }
}

describe('TickStepper', () => {
  it('does not drift over 10,000 ticks of jittered wake-ups', () => {
    const step = new TickStepper({ tickRate: 60, startMs: 1000, maxCatchUpTicks: 5 })
    const rand = jitter(1)
    let now = 1000
    let ran = 0
    // Wake up late by 0–12 ms each time (under the catch-up bound): every tick must still run on schedule.
    while (ran < 10_000) {
      now = Math.max(now, step.nextDueMs) + rand() * 12
      const before = step.tick
      const n = step.advance(now)
      expect(step.tick).toBe(before + n)
      ran += n
      // Never behind by a tick or more after catching up, never early.
      expect(step.nextDueMs).toBeGreaterThan(now)
      expect(step.nextDueMs - now).toBeLessThanOrEqual(step.stepMs + 1e-9)
    }
    // Tick n is due at start + n·step exactly: after 10,000+ ticks the count matches the clock.
    expect(step.tick).toBe(Math.floor((now - 1000) / step.stepMs) + 1)
    expect(step.overrun.overruns).toBe(0)
  })

  it('runs nothing early, and exactly one tick per step when woken on time', () => {
    const step = new TickStepper({ tickRate: 20, startMs: 0 })
    expect(step.advance(0)).toBe(1)
    expect(step.advance(49.9)).toBe(0)
    expect(step.advance(50)).toBe(1)
    for (let k = 2; k <= 10_001; k++) expect(step.advance(k * 50)).toBe(1)
    expect(step.tick).toBe(10_002)
    expect(step.nextDueMs).toBe(10_002 * 50)
  })

  it('catches up to the bound, then reports an overrun and drops the backlog', () => {
    const step = new TickStepper({ tickRate: 20, startMs: 0, maxCatchUpTicks: 4 })
    expect(step.advance(0)).toBe(1)
    // 3 ticks late: catch up fully.
    expect(step.advance(150)).toBe(3)
    expect(step.overrun.overruns).toBe(0)
    // 1 s stall: 20 ticks due, only 4 run.
    expect(step.advance(1150)).toBe(4)
    expect(step.overrun).toMatchObject({ overruns: 1, droppedTicks: 16 })
    expect(step.overrun.maxLagMs).toBeGreaterThanOrEqual(950)
    // Tick numbers stay contiguous and the schedule restarts from now.
    expect(step.tick).toBe(8)
    expect(step.advance(1150)).toBe(0)
    expect(step.advance(1200)).toBe(1)
  })

  it('on a shared clock, skips the dropped numbers instead, so tick n stays due at start + n·step', () => {
    const step = new TickStepper({ tickRate: 20, startMs: 0, maxCatchUpTicks: 4, skipDropped: true })
    expect(step.advance(0)).toBe(1)
    expect(step.advance(150)).toBe(3)
    // The same 1 s stall: 20 due, the newest 4 run (numbers 20–23), 16 numbers skipped.
    expect(step.advance(1150)).toBe(4)
    expect(step.overrun).toMatchObject({ overruns: 1, droppedTicks: 16 })
    expect(step.tick).toBe(24)
    expect(step.nextDueMs).toBe(24 * 50)
    expect(step.advance(1199)).toBe(0)
    expect(step.advance(1200)).toBe(1)
  })
})

describe('TickLoop', () => {
  /** Runs a 50 Hz loop on the real clock and `scheduler` for 300 ms: its ticks' lateness and its wake-ups. */
  async function runFor300ms(scheduler: Scheduler): Promise<{ lateMs: number[]; wakes: number }> {
    let wakes = 0
    const counting: Scheduler = {
      schedule: (fn, delayMs) => {
        wakes++
        return scheduler.schedule(fn, delayMs)
      },
    }
    const epoch = Date.now()
    const lateMs: number[] = []
    // Tick n is due at epoch + 20n ms of wall-clock time.
    const loop = new TickLoop({ tickRate: 50, scheduler: counting, onTick: (t) => lateMs.push(performance.timeOrigin + performance.now() - (epoch + t * 20)) })
    loop.start(epoch)
    await new Promise((resolve) => setTimeout(resolve, 300))
    loop.stop()
    return { lateMs, wakes }
  }

  it('asleep on the real timers: about one wake-up a tick, no tick before it is due', async () => {
    const { lateMs, wakes } = await runFor300ms(sleepingScheduler)
    expect(lateMs.length).toBeGreaterThanOrEqual(5)
    expect(Math.min(...lateMs)).toBeGreaterThanOrEqual(-0.001)
    // Turning the event loop until a tick is due would be hundreds of wake-ups a tick.
    expect(wakes).toBeLessThanOrEqual(3 * lateMs.length + 2)
  })

  it('runs ticks in order on the injected clock and stops', () => {
    const time = new FakeTime()
    const ticks: number[] = []
    const loop = new TickLoop({ tickRate: 20, onTick: (t) => ticks.push(t), clock: time, scheduler: time })
    loop.start()
    expect(ticks).toEqual([0])
    for (let i = 0; i < 9; i++) time.fire()
    expect(ticks).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(time.t).toBe(450)
    loop.stop()
    expect(time.fire()).toBe(false)
  })

  it('reports overruns through the callback when a tick takes too long', () => {
    const time = new FakeTime()
    const overruns: number[] = []
    const loop = new TickLoop({
      tickRate: 20,
      maxCatchUpTicks: 2,
      clock: time,
      scheduler: time,
      onTick: (t) => {
        if (t === 3) time.t += 500 // a slow tick
      },
      onOverrun: (s) => overruns.push(s.droppedTicks),
    })
    loop.start()
    for (let i = 0; i < 6; i++) time.fire()
    expect(overruns.length).toBe(1)
    expect(loop.overrun.overruns).toBe(1)
    expect(loop.overrun.droppedTicks).toBeGreaterThan(0)
    loop.stop()
  })

  it('numbers ticks from a shared epoch: two loops started apart agree on the number due at each instant', () => {
    // Wall clock = fake clock + 1,000,000 ms; epoch 999,000: the fake clock's 0 is 1,000 ms (20 ticks) after it.
    const a = new FakeTime()
    const b = new FakeTime()
    const ticksA: number[] = []
    const ticksB: Array<{ tick: number; at: number }> = []
    const loopA = new TickLoop({ tickRate: 20, onTick: (t) => ticksA.push(t), clock: a, scheduler: a, wallOffsetMs: 1_000_000 })
    // b's process started 337 ms after a's: same wall clock, its monotonic clock 337 ms behind.
    const loopB = new TickLoop({ tickRate: 20, onTick: (t) => ticksB.push({ tick: t, at: b.t + 337 }), clock: b, scheduler: b, wallOffsetMs: 1_000_337 })
    loopA.start(999_000)
    expect(ticksA).toEqual([20])
    a.t = 1_000
    a.fire()
    expect(ticksA.at(-1)).toBe(40)
    // b starts 1,010 ms into a's run (673 ms into its own): its first tick is the next one due, 41, at a's 1,050 ms.
    b.t = 673
    loopB.start(999_000)
    expect(ticksB).toEqual([])
    expect(loopB.tick).toBe(41)
    b.fire()
    expect(ticksB).toEqual([{ tick: 41, at: 1_050 }])
    // An overrun skips numbers rather than falling behind the others.
    b.fire(400)
    expect(ticksB.at(-1)).toEqual({ tick: 50, at: 1_500 })
    expect(ticksB.map((t) => t.tick)).toEqual([41, 46, 47, 48, 49, 50])
    loopA.stop()
    loopB.stop()
  })

  it('numbers from the next tick due after a restart on the epoch, never one already run', () => {
    const time = new FakeTime()
    const ticks: number[] = []
    const loop = new TickLoop({ tickRate: 10, onTick: (t) => ticks.push(t), clock: time, scheduler: time, wallOffsetMs: 0 })
    time.t = 250
    loop.start(0)
    expect(ticks).toEqual([])
    time.fire()
    expect(ticks).toEqual([3])
    loop.stop()
    // Restarted before tick 4 is due: it comes next.
    loop.start(0)
    time.fire()
    expect(ticks).toEqual([3, 4])
  })

  it('stops and reports when a tick throws', () => {
    const time = new FakeTime()
    const errors: unknown[] = []
    const loop = new TickLoop({
      clock: time,
      scheduler: time,
      onTick: (t) => {
        if (t === 2) throw new Error('boom')
      },
      onError: (e) => errors.push(e),
    })
    loop.start()
    time.fire()
    time.fire()
    expect(errors).toHaveLength(1)
    expect(time.fire()).toBe(false)
  })

  it('runs on real timers too', async () => {
    const ticks: number[] = []
    await new Promise<void>((resolve) => {
      const loop = new TickLoop({
        tickRate: 200,
        onTick: (t) => {
          ticks.push(t)
          if (ticks.length === 5) {
            loop.stop()
            resolve()
          }
        },
      })
      loop.start()
    })
    expect(ticks).toEqual([0, 1, 2, 3, 4])
  })
})
