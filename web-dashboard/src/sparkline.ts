/** Client-side load history per worker (the API reports only the present) and its sparkline. */
import { svg } from './dom.ts'

/** Samples kept per worker: five minutes at one poll a second. */
export const HISTORY_SAMPLES = 300

export class LoadHistory {
  private readonly series = new Map<string, number[]>()

  /** Records one sample per worker; workers gone from `loads` are forgotten. */
  record(loads: ReadonlyMap<string, number>): void {
    for (const id of this.series.keys()) if (!loads.has(id)) this.series.delete(id)
    for (const [id, v] of loads) {
      const s = this.series.get(id) ?? []
      s.push(v)
      if (s.length > HISTORY_SAMPLES) s.splice(0, s.length - HISTORY_SAMPLES)
      this.series.set(id, s)
    }
  }

  get(id: string): readonly number[] {
    return this.series.get(id) ?? []
  }
}

const W = 120
/** Samples the sparkline spans at least (one minute). */
const MIN_WINDOW = 60
const H = 24

/** An SVG sparkline element to be refreshed with `drawSparkline`. */
export function sparkline(): SVGSVGElement {
  const el = svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H, preserveAspectRatio: 'none' })
  el.append(svg('polyline', { class: 'spark-line', 'vector-effect': 'non-scaling-stroke' }))
  return el
}

/**
 * Plots `values` scaled to their own peak (the bar beside it shows load against capacity; the
 * sparkline shows the trend, which a capacity scale would flatten on a lightly loaded worker).
 */
export function drawSparkline(el: SVGSVGElement, values: readonly number[], unit: string): void {
  const line = el.firstElementChild
  if (!line) return
  const peak = Math.max(0, ...values)
  const top = peak * 1.15 || 1
  el.dataset['samples'] = String(values.length)
  el.setAttribute('aria-label', `${values.length} samples, peak ${peak.toFixed(1)} ${unit}`)
  // The newest sample at the right edge; the window grows from one minute to five as history
  // accumulates, so a fresh page shows a line rather than a sliver.
  const step = W / (Math.max(MIN_WINDOW, values.length) - 1)
  const x0 = W - (values.length - 1) * step
  const points = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(H - 1 - (v / top) * (H - 2)).toFixed(1)}`)
  line.setAttribute('points', points.join(' '))
}
