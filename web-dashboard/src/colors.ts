/**
 * Owner colours. Each worker keeps its colour while it lives (assigned in the order workers are
 * first seen), so a partition that changes owner visibly changes colour and nothing else does.
 */

const assigned = new Map<string, string>()

/** Golden-angle hue steps keep neighbours apart for any number of workers (50 stay distinct enough). */
function colourAt(i: number): string {
  const hue = (i * 137.508 + 200) % 360
  const light = i % 2 === 0 ? 62 : 52
  return `hsl(${hue.toFixed(1)} 70% ${light}%)`
}

export function ownerColour(owner: string | null): string {
  if (owner === null) return 'hsl(0 0% 45%)'
  let c = assigned.get(owner)
  if (c === undefined) {
    c = colourAt(assigned.size)
    assigned.set(owner, c)
  }
  return c
}

/** Registers workers in a stable (sorted) order, so colours do not depend on which panel asked first. */
export function registerOwners(ids: readonly string[]): void {
  for (const id of [...ids].sort()) ownerColour(id)
}

/** Heatmap ramp for a density in [0, 1]: dark blue through magenta and orange to pale yellow. */
export function heatColour(t: number): string {
  const x = Math.min(1, Math.max(0, t))
  const stops: [number, number, number, number][] = [
    [0, 20, 24, 60],
    [0.35, 120, 40, 140],
    [0.7, 240, 110, 60],
    [1, 255, 240, 160],
  ]
  for (let i = 1; i < stops.length; i++) {
    const a = stops[i - 1]
    const b = stops[i]
    if (!a || !b || x > b[0]) continue
    const f = (x - a[0]) / (b[0] - a[0])
    const mix = (j: 1 | 2 | 3): number => Math.round(a[j] + (b[j] - a[j]) * f)
    return `rgb(${mix(1)} ${mix(2)} ${mix(3)})`
  }
  return 'rgb(255 240 160)'
}
