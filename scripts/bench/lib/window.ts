/**
 * What a benchmark's server process measures over one measured window: its CPU and wall time, the
 * duration of each tick, and (with `--cpu-prof DIR`) a main-thread CPU profile of the window only.
 */

/** CPU (user + system) and wall time from `begin` to `end`. */
export class MeasuredWindow {
  private cpuStart = process.cpuUsage()
  private wallStart = performance.now()

  begin(): void {
    this.cpuStart = process.cpuUsage()
    this.wallStart = performance.now()
  }

  end(): { cpuUs: number; wallMs: number } {
    const cpu = process.cpuUsage(this.cpuStart)
    return { cpuUs: cpu.user + cpu.system, wallMs: performance.now() - this.wallStart }
  }
}

/**
 * Wraps `runner.tick` to record each tick's duration into the returned array (clear it at a
 * window's start): the runner's own statistics span its last 200 ticks, not the window.
 */
export function timeTicks(runner: { tick(): void }): number[] {
  const tickMs: number[] = []
  const tickOnce = runner.tick.bind(runner)
  runner.tick = () => {
    const t0 = performance.now()
    tickOnce()
    tickMs.push(performance.now() - t0)
  }
  return tickMs
}

/** Main-thread CPU profiles of measured windows, one file `DIR/NAME.cpuprofile` per window. */
export async function windowProfiler(dir: string): Promise<{ start(): void; stop(name: string): void }> {
  const { Session } = await import('node:inspector')
  const { mkdirSync, writeFileSync } = await import('node:fs')
  mkdirSync(dir, { recursive: true })
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  return {
    start: () => session.post('Profiler.start'),
    stop: (name) =>
      session.post('Profiler.stop', (err, result) => {
        if (!err) writeFileSync(`${dir}/${name}.cpuprofile`, JSON.stringify(result.profile))
      }),
  }
}
