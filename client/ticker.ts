/**
 * Calls a function at a fixed rate on the monotonic clock: the schedule is `start + n × period`, so
 * timer lateness does not accumulate; when the process stalls for several periods, the missed ticks
 * are skipped rather than fired in a burst (a burst of inputs would only be dropped by the server's
 * rate limit).
 */
export interface Ticker {
  stop(): void
  readonly hz: number
}

/**
 * @param align put the ticks on the clock's grid (multiples of the period) instead of starting from
 *   now, so that every ticker of the process with the same rate fires together.
 */
export function startTicker(hz: number, fn: () => void, now: () => number = () => performance.now(), align = false): Ticker {
  const period = 1000 / hz
  const start = align ? Math.floor(now() / period) * period : now()
  let n = 0
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const step = (): void => {
    if (stopped) return
    fn()
    n++
    const t = now()
    // Skip whole periods we are already past.
    const behind = Math.floor((t - start) / period) - n
    if (behind > 1) n += behind
    timer = setTimeout(step, Math.max(0, start + n * period - t))
  }
  timer = setTimeout(step, Math.max(0, start + period - now()))
  return {
    hz,
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}
