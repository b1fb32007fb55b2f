/** What the map's colours mean: owners, the density ramp, and where the dots come from. */
import type { WorldDetail } from '../../core/api/types.ts'
import { heatColour, ownerColour } from './colors.ts'
import { h } from './dom.ts'

export function renderLegend(root: HTMLElement, detail: WorldDetail): void {
  const owners = new Map<string, number>()
  for (const p of detail.partitions) {
    const key = p.owner ?? 'unowned'
    owners.set(key, (owners.get(key) ?? 0) + 1)
  }
  const ownerItems = [...owners.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, 60).map(([id, n]) => {
    const swatch = h('span', { class: 'swatch' })
    swatch.style.background = ownerColour(id === 'unowned' ? null : id)
    return h('span', { class: 'legend-item', 'data-owner': id }, swatch, `${id} (${n})`)
  })
  const ramp = h('span', { class: 'ramp' })
  ramp.style.background = `linear-gradient(90deg, ${[0, 0.25, 0.5, 0.75, 1].map((t) => heatColour(t)).join(', ')})`
  root.replaceChildren(
    h('div', { class: 'legend-row' }, h('strong', {}, 'owners '), ...ownerItems),
    h(
      'div',
      { class: 'legend-row muted' },
      h('strong', {}, 'density '), 'low ', ramp, ' high (load per area, from each partition\u2019s load summary) · ',
      h('span', { class: 'dot-sample' }), ' entities sampled from that density (the API has no positions)',
    ),
  )
}
