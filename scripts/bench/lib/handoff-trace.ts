/**
 * The `handoff` benchmark's decomposition of handoff latency: each handoff's stages (from the
 * workers' `handoffTrace` stamps, joined across processes by handoff id), and what else held the
 * event loop meanwhile: worker ticks, garbage collections, event-loop delay.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import type { PerformanceEntry } from 'node:perf_hooks'
import { handoffTrace, STAGES } from '../../../worker/handoff/trace.ts'
import type { SchedStat, Stage, TickSpan } from '../../../worker/handoff/trace.ts'
import { summarize } from '../scenario.ts'

/** What one process saw: its stamps, its workers' ticks, its collections and event-loop delay. */
export interface ProcessTrace {
  process: string
  stamps: Record<string, Partial<Record<Stage, number>>>
  ticks: TickSpan[]
  /** The sender's main-thread scheduler figures when each handoff was queued and accepted. */
  cpu: Record<string, { queued?: SchedStat; accepted?: SchedStat }>
  /** Garbage collections: wall-clock start (ms) and duration (ms). */
  gcs: { start: number; ms: number }[]
  /** Event-loop delay over the measured window (from `measure`), ms (perf_hooks histogram sampled every 1 ms). */
  eld: { p50: number; p99: number; max: number }
}

/**
 * Start tracing in this process; `collect` returns what it saw so far. `measure` marks the start of
 * the measured window: the event-loop delay is counted from there (the start-up before it, loading
 * modules and opening links, stalls the loop for 100 ms and more).
 */
export function startProcessTrace(name: string): { collect: () => ProcessTrace; measure: () => void; stop: () => void } {
  handoffTrace.enable()
  const gcs: ProcessTrace['gcs'] = []
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as PerformanceEntry[]) gcs.push({ start: performance.timeOrigin + e.startTime, ms: e.duration })
  })
  obs.observe({ entryTypes: ['gc'] })
  const eld = monitorEventLoopDelay({ resolution: 1 })
  eld.enable()
  return {
    collect: () => ({
      process: name,
      stamps: Object.fromEntries(handoffTrace.stamps),
      ticks: [...handoffTrace.ticks],
      cpu: Object.fromEntries(handoffTrace.cpu),
      gcs: [...gcs],
      eld: { p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 },
    }),
    measure: () => eld.reset(),
    stop: () => {
      obs.disconnect()
      eld.disable()
      handoffTrace.enabled = false
    },
  }
}

/** The stages between consecutive stamps, with the names the bench prints. */
const SPANS: { name: string; from: Stage; to: Stage }[] = [
  { name: 'queue_to_write', from: 'queued', to: 'offerWritten' },
  { name: 'offer_wire', from: 'offerWritten', to: 'offerReceived' },
  { name: 'judge', from: 'offerReceived', to: 'answered' },
  { name: 'reply_queue', from: 'answered', to: 'replyWritten' },
  { name: 'reply_wire', from: 'replyWritten', to: 'replyReceived' },
  { name: 'take_in', from: 'replyReceived', to: 'accepted' },
]

function runQueueMs(c: { queued?: SchedStat; accepted?: SchedStat } | undefined): number {
  return c?.queued && c.accepted ? Math.max(0, c.accepted.waiting - c.queued.waiting) : 0
}

function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0))
}

/**
 * Per-stage p50/p99 over complete handoffs stamped at or after `fromMs` (wall clock), and for the
 * slow ones (over `slowMs`) how much of each stage overlapped worker ticks and collections.
 */
export function decompose(traces: ProcessTrace[], fromMs: number, slowMs = 3): { metrics: Record<string, number>; notes: string[] } {
  const joined = new Map<string, Partial<Record<Stage, number>>>()
  for (const t of traces) {
    for (const [id, s] of Object.entries(t.stamps)) joined.set(id, { ...joined.get(id), ...s })
  }
  const complete = [...joined.entries()].filter(([, s]) => STAGES.every((st) => s[st] !== undefined) && (s.queued as number) >= fromMs)
  const metrics: Record<string, number> = { traced_handoffs: complete.length }
  for (const span of SPANS) {
    const d = summarize(complete.map(([, s]) => (s[span.to] as number) - (s[span.from] as number)))
    metrics[`${span.name}_ms_p50`] = round(d.p50)
    metrics[`${span.name}_ms_p99`] = round(d.p99)
  }
  const ticks = traces.flatMap((t) => t.ticks)
  const gcs = traces.flatMap((t) => t.gcs.map((g) => ({ ...g, process: t.process })))
  const notes: string[] = []
  let slow = 0
  let slowTotal = 0
  let slowTick = 0
  let slowGc = 0
  let slowOffCpu = 0
  const cpu = new Map(traces.flatMap((t) => Object.entries(t.cpu)))
  for (const [id, s] of complete.sort((a, b) => (b[1].accepted as number) - (b[1].queued as number) - ((a[1].accepted as number) - (a[1].queued as number)))) {
    const total = (s.accepted as number) - (s.queued as number)
    if (total <= slowMs) break
    slow++
    slowTotal += total
    // Time the sender's main thread was runnable but waited for a CPU (one process: the whole path).
    const offCpu = runQueueMs(cpu.get(id))
    slowOffCpu += offCpu
    const parts = SPANS.map((span) => {
      const a = s[span.from] as number
      const b = s[span.to] as number
      const inTicks = new Map<string, number>()
      for (const t of ticks) {
        const o = overlap(a, b, t.start, t.end)
        if (o > 0) inTicks.set(t.worker, (inTicks.get(t.worker) ?? 0) + o)
      }
      const gc = gcs.reduce((n, g) => n + overlap(a, b, g.start, g.start + g.ms), 0)
      slowTick += [...inTicks.values()].reduce((n, x) => n + x, 0)
      slowGc += gc
      const extra = [...[...inTicks].map(([w, ms]) => `tick ${w} ${ms.toFixed(1)}`), ...(gc > 0 ? [`gc ${gc.toFixed(1)}`] : [])]
      return `${span.name} ${(b - a).toFixed(2)}${extra.length > 0 ? ` [${extra.join(', ')}]` : ''}`
    })
    // The sender's tick the offer was queued in: its phases, and where in it the offer was queued.
    const q = s.queued as number
    const own = ticks.find((t) => !t.worker.endsWith(':frames') && t.start <= q && q <= t.end)
    if (own) parts.push(`sender tick: step ${(own.stepped - own.start).toFixed(2)}, afterTick ${(own.bordered - own.stepped).toFixed(2)} (offer queued at +${(q - own.stepped).toFixed(2)}), flush ${(own.end - own.bordered).toFixed(2)}`)
    if (notes.length < 8) notes.push(`slow handoff ${id}: ${total.toFixed(1)} ms (sender waiting for a CPU ${offCpu.toFixed(1)}) = ${parts.join('; ')}`)
  }
  metrics['slow_handoffs'] = slow
  // Share of the slow handoffs' time that overlapped worker ticks or frame handling (any worker).
  metrics['slow_in_ticks_share'] = slow > 0 ? round(slowTick / slowTotal) : 0
  metrics['slow_in_gc_share'] = slow > 0 ? round(slowGc / slowTotal) : 0
  metrics['slow_run_queue_share'] = slow > 0 ? round(slowOffCpu / slowTotal) : 0
  // Over all handoffs: time the sender's main thread waited in the run queue (for a CPU).
  const oc = summarize(complete.map(([id]) => runQueueMs(cpu.get(id))))
  metrics['run_queue_ms_p50'] = round(oc.p50)
  metrics['run_queue_ms_p99'] = round(oc.p99)
  for (const t of traces) {
    const p = t.process
    metrics[`eld_ms_p99_${p}`] = round(t.eld.p99)
    metrics[`eld_ms_max_${p}`] = round(t.eld.max)
    const g = summarize(t.gcs.filter((x) => x.start >= fromMs).map((x) => x.ms))
    metrics[`gc_count_${p}`] = t.gcs.filter((x) => x.start >= fromMs).length
    metrics[`gc_ms_max_${p}`] = round(Number.isFinite(g.max) ? g.max : 0)
    const tk = summarize(t.ticks.filter((x) => x.start >= fromMs && !x.worker.endsWith(':frames')).map((x) => x.end - x.start))
    metrics[`tick_cost_ms_p99_${p}`] = round(Number.isFinite(tk.p99) ? tk.p99 : 0)
  }
  return { metrics, notes }
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : 0
}
