/** Steps between consecutive tick numbers that are not forward by `least` to `most`, as "a → b". */
export function tickJumps(ticks: readonly number[], least: number, most: number): string[] {
  const bad: string[] = []
  for (let k = 1; k < ticks.length; k++) {
    const d = (ticks[k] as number) - (ticks[k - 1] as number)
    if (d < least || d > most) bad.push(`${ticks[k - 1]} → ${ticks[k]}`)
  }
  return bad
}
