/**
 * What a benchmark reads off in-process workers: every partition runner a worker holds (those it is
 * handing over included), the world's entity count, and each worker's real tick work.
 *
 * Tick work is measured as the planner's load unit, milliseconds of simulation per second, but
 * without the smoothing of the reports (the worker averages its recent ticks and smooths the
 * figure, the planner smooths it again): it is the load as it is, not as the leader last heard it.
 */
import { PerformanceObserver } from 'node:perf_hooks'
import type { Worker } from '../../../worker/worker.ts'
import type { PartitionRunner } from '../../../worker/partition-runner.ts'

type AnyRunner = PartitionRunner<unknown, unknown>

/** Every runner of `worker`, retiring ones included (the public `partitions()` leaves those out). */
export function runnersOf<S, M>(worker: Worker<S, M>): AnyRunner[] {
  return [...(worker as unknown as { runners: Map<string, AnyRunner> }).runners.values()]
}

/**
 * The entities of `worldId` as distinct ids: those simulated by a runner of `workers`, and those
 * out on offer (held by their sender, simulated nowhere until the receiver accepts). An entity the
 * receiver imported before its sender heard the acceptance is in both: it counts once, as simulated.
 * `stuck` are the held ones whose offer has been out for longer than `stuckMs`: an offer is in
 * flight for a tick or more (one between two partitions of one worker is answered at the next
 * tick), so while entities cross, a census between two ticks finds some held at almost any time.
 */
export function worldCensus<S, M>(workers: readonly Worker<S, M>[], worldId: string, stuckMs = 1000): { simulated: number; held: number; stuck: number; total: number } {
  const simulated = new Set<number>()
  for (const w of workers) for (const r of runnersOf(w)) if (r.options.worldId === worldId) for (const e of r.sim.allEntities()) simulated.add(e.id)
  const held = new Set<number>()
  const stuck = new Set<number>()
  for (const w of workers) {
    for (const o of w.border.offersOut()) {
      if (o.worldId !== worldId || simulated.has(o.entityId)) continue
      held.add(o.entityId)
      if (o.heldMs > stuckMs) stuck.add(o.entityId)
    }
  }
  return { simulated: simulated.size, held: held.size, stuck: stuck.size, total: simulated.size + held.size }
}

/**
 * Times every runner's ticks, per worker, in buckets of wall time; and, to tell a worker's own work
 * from a pause of the process all four share, the garbage-collection pauses inside its ticks.
 */
export class TickMeter<S, M> {
  private readonly seen = new WeakSet<AnyRunner>()
  /** Per worker: [wall time of a tick's end, its duration in ms]. */
  private readonly ticks = new Map<string, Array<[number, number]>>()

  /** The process's garbage-collection pauses: [start, end] in `performance.now()` time. */
  private readonly gcs: Array<[number, number]> = []
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.gcs.push([e.startTime, e.startTime + e.duration])
  })

  constructor(private readonly workers: readonly Worker<S, M>[]) {
    for (const w of workers) this.ticks.set(w.id, [])
    this.observer.observe({ entryTypes: ['gc'] })
  }

  /** Stops watching the garbage collector. */
  stop(): void {
    this.observer.disconnect()
  }

  /** Per worker over the `windowMs` before now: GC pause time inside its ticks (ms/s) and its longest tick (ms). */
  detail(windowMs = 1000): Map<string, { gc: number; longest: number }> {
    const now = performance.now()
    const since = now - windowMs
    // The pauses that can overlap a tick of the window: those ending after the earliest such tick
    // began (pauses are recorded in order, and the main thread has one at a time).
    let earliest = since
    for (const log of this.ticks.values()) {
      for (let i = log.length - 1; i >= 0; i--) {
        const [at, d] = log[i] as [number, number]
        if (at < since) break
        earliest = Math.min(earliest, at - d)
      }
    }
    let first = this.gcs.length
    while (first > 0 && (this.gcs[first - 1] as [number, number])[1] > earliest) first--
    const recent = this.gcs.slice(first)
    const out = new Map<string, { gc: number; longest: number }>()
    for (const [id, log] of this.ticks) {
      let gc = 0
      let longest = 0
      for (let i = log.length - 1; i >= 0; i--) {
        const [at, d] = log[i] as [number, number]
        if (at < since) break
        longest = Math.max(longest, d)
        for (const [g0, g1] of recent) gc += Math.max(0, Math.min(g1, at) - Math.max(g0, at - d))
      }
      out.set(id, { gc: (gc * 1000) / windowMs, longest })
    }
    return out
  }

  /** Start timing runners created since the last call (call it often: runners come and go). */
  watch(): void {
    for (const w of this.workers) {
      const log = this.ticks.get(w.id) as Array<[number, number]>
      for (const r of runnersOf(w)) {
        if (this.seen.has(r)) continue
        this.seen.add(r)
        const tick = r.tick.bind(r)
        r.tick = () => {
          const t0 = performance.now()
          tick()
          const t1 = performance.now()
          log.push([t1, t1 - t0])
        }
      }
      // Keep a minute at most.
      const cutoff = performance.now() - 60_000
      while (log.length > 0 && (log[0] as [number, number])[0] < cutoff) log.shift()
    }
    while (this.gcs.length > 0 && (this.gcs[0] as [number, number])[1] < performance.now() - 60_000) this.gcs.shift()
  }

  /** Per worker: ms of tick work per second over the `windowMs` before now. */
  load(windowMs = 1000): Map<string, number> {
    const now = performance.now()
    const out = new Map<string, number>()
    for (const [id, log] of this.ticks) {
      let ms = 0
      for (let i = log.length - 1; i >= 0; i--) {
        const [at, d] = log[i] as [number, number]
        if (at < now - windowMs) break
        ms += d
      }
      out.set(id, (ms * 1000) / windowMs)
    }
    return out
  }
}

/** max/mean of the values (1 when all are zero). */
export function maxOverMean(values: Iterable<number>): number {
  const v = [...values]
  const mean = v.reduce((s, x) => s + x, 0) / Math.max(1, v.length)
  return mean > 0 ? Math.max(...v) / mean : 1
}
