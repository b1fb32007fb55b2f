/** Calls `fn` at `hz` on a fixed schedule of the monotonic clock (late ticks are not stretched). */
export function startTicker(hz: number, fn: () => void): () => void {
  const period = 1000 / hz
  const start = performance.now()
  let n = 0
  let timer: NodeJS.Timeout | undefined
  const step = (): void => {
    fn()
    n++
    const next = start + n * period
    timer = setTimeout(step, Math.max(0, next - performance.now()))
  }
  timer = setTimeout(step, period)
  return () => clearTimeout(timer)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
