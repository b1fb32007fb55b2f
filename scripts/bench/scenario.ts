/**
 * What every benchmark scenario shares: its flags, its result shape, and how results are printed.
 * A scenario is a module in this folder that default-exports a `Scenario`; `main.ts` finds it by name.
 */

export interface BenchFlags {
  /** Bot clients (`--bots`). */
  bots?: number
  /** Worker processes (`--workers`). */
  workers?: number
  /** How long the measured phase runs (`--seconds`). */
  seconds?: number
  /** Tick / send rate (`--hz`). */
  hz?: number
  /** Interest radius in world units (`--radius`). */
  radius?: number
  /** Every bot sees every other (`--all-visible`). */
  allVisible: boolean
  /** Which cluster store to use (`--store`). */
  store: 'memory' | 'etcd'
  /** Print one JSON line last (`--json`). */
  json: boolean
  /** Scenario-specific extra flags, `--name value`. */
  extra: Record<string, string>
}

export interface BenchResult {
  params: Record<string, unknown>
  /** Headline figures, named as in shared BENCH.md so runs can be compared across versions. */
  metrics: Record<string, number>
  /** Extra human-readable lines (per-round figures and the like). */
  notes?: string[]
}

export interface Scenario {
  name: string
  description: string
  run(flags: BenchFlags): Promise<BenchResult>
}

/** Median and percentiles of a sample, for scenarios that run several rounds. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}

export function summarize(samples: readonly number[]): { p50: number; p99: number; max: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN, mean }
}

export function formatTable(result: BenchResult): string {
  const rows = Object.entries(result.metrics).map(([k, v]) => [k, formatNumber(v)] as const)
  const width = Math.max(6, ...rows.map(([k]) => k.length))
  const lines = [`${'metric'.padEnd(width)}  value`, `${'-'.repeat(width)}  -----`]
  for (const [k, v] of rows) lines.push(`${k.padEnd(width)}  ${v}`)
  return lines.join('\n')
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)
}
