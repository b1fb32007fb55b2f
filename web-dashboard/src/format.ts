/** Number and time formats shared by the panels. */

export function fmtMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0)
  if (ms >= 10) return ms.toFixed(1)
  return ms.toFixed(2)
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function fmtPct(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`
}

/** "3 s", "4 min", "2 h 5 min": ages in the rooms list and the events list. */
export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const hours = Math.floor(m / 60)
  return `${hours} h ${m % 60} min`
}

export function fmtClock(at: number): string {
  return new Date(at).toLocaleTimeString('en-GB', { hour12: false })
}

export function fmtCoord(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1)
}
