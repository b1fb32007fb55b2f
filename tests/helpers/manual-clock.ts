/**
 * A clock that moves only when a test says so: `advance(ms)` runs every timer due in that span,
 * in time order, so lease expiry can be tested in microseconds of real time.
 */
import type { StoreClock } from '../../core/store/memory.ts'

interface PendingTimer {
  at: number
  fn: () => void
}

export class ManualClock implements StoreClock {
  private time = 0
  private nextId = 1
  private readonly timers = new Map<number, PendingTimer>()

  now(): number {
    return this.time
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle)
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size
  }

  /** Move time forward by `ms`, firing due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const target = this.time + ms
    for (;;) {
      let next: [number, PendingTimer] | undefined
      for (const entry of this.timers) {
        // Map iteration is insertion order, so ties fire in the order they were set.
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry
      }
      if (!next) break
      this.timers.delete(next[0])
      this.time = next[1].at
      next[1].fn()
    }
    this.time = target
  }
}
