/** The selected partition's details and the operator's actions on it (split, merge, pin, unpin). */
import type { PartitionView } from '../../core/api/types.ts'
import { api } from './api.ts'
import type { PartitionAction } from './api.ts'
import { ownerColour } from './colors.ts'
import { runAction } from './dialog.ts'
import { h, setText } from './dom.ts'
import { fmtCoord, fmtInt, fmtMs } from './format.ts'

const explain: Record<PartitionAction, (p: PartitionView) => string> = {
  split: (p) => `Split ${p.partitionId} in two along its longer axis? Both halves stay with ${p.owner ?? 'no owner'} until the planner moves one.`,
  merge: (p) => `Merge ${p.partitionId} with its sibling ${p.mergeableWith ?? ''}? The merged partition keeps one owner.`,
  pin: (p) => `Pin ${p.partitionId} to ${p.owner ?? 'its owner'}? The planner will leave it alone until unpinned.`,
  unpin: (p) => `Unpin ${p.partitionId}? The planner may move, split or merge it again.`,
}

function structureKey(p: PartitionView): string {
  return `${p.id}|${p.epoch}|${p.pinned}|${p.owner ?? ''}|${p.mergeableWith ?? ''}`
}

export class PartitionPanel {
  private shown: PartitionView | null = null
  private values = new Map<string, HTMLElement>()

  constructor(private readonly root: HTMLElement, private readonly refresh: () => void) {}

  /** Shows `p` (null: nothing selected). */
  show(p: PartitionView | null): void {
    const previous = this.shown
    this.shown = p
    if (!p) {
      this.values.clear()
      this.root.replaceChildren(h('p', { class: 'muted' }, 'Click a partition on the map.'))
      return
    }
    // Buttons are rebuilt only when what they act on changes, not on every load update.
    if (previous === null || structureKey(previous) !== structureKey(p)) this.build(p)
    const r = p.rect
    const load = p.load
    this.set('owner', p.owner ?? 'none (orphaned)')
    this.set('epoch', String(p.epoch))
    this.set('pinned', p.pinned ? 'yes' : 'no')
    this.set('load', load ? `${fmtMs(load.tickCostMs)} ms/s` : 'no report')
    this.set('entities', load ? fmtInt(load.entities) : '–')
    this.set('clients', load ? fmtInt(load.clients) : '–')
    this.set('bytes out', load ? `${fmtInt(load.bytesOutPerS)} B/s` : '–')
    this.set('rect', `x ${fmtCoord(r.minX)}–${fmtCoord(r.maxX)}, y ${fmtCoord(r.minY)}–${fmtCoord(r.maxY)}`)
    this.set('sibling', p.mergeableWith ?? 'none (not beside a leaf)')
  }

  /** Follows the selected partition into a new map version; a partition gone (split, merged) clears it. */
  follow(partitions: readonly PartitionView[]): PartitionView | null {
    if (!this.shown) return null
    const now = partitions.find((q) => q.id === this.shown?.id) ?? null
    this.show(now)
    return now
  }

  private set(key: string, text: string): void {
    const el = this.values.get(key)
    if (el) setText(el, text)
  }

  private build(p: PartitionView): void {
    this.values.clear()
    const details = h('dl', { class: 'kv' })
    for (const key of ['owner', 'epoch', 'pinned', 'load', 'entities', 'clients', 'bytes out', 'rect', 'sibling']) {
      const dd = h('dd', { 'data-field': key })
      this.values.set(key, dd)
      details.append(h('dt', {}, key), dd)
    }
    const actions = h('div', { class: 'actions' })
    const button = (action: PartitionAction, text: string, enabled: boolean): void => {
      const b = h('button', { 'data-action': action, disabled: !enabled }, text)
      b.addEventListener('click', () => {
        void runAction(text, explain[action](p), () => api.partition(action, p.worldId, p.partitionId), this.refresh)
      })
      actions.append(b)
    }
    button('split', 'Split', true)
    button('merge', p.mergeableWith ? `Merge with ${p.mergeableWith}` : 'Merge', p.mergeableWith !== null)
    button(p.pinned ? 'unpin' : 'pin', p.pinned ? 'Unpin' : 'Pin', true)
    const swatch = h('span', { class: 'swatch' })
    swatch.style.background = ownerColour(p.owner)
    this.root.replaceChildren(
      h('h3', { 'data-selected': p.partitionId, 'data-epoch': p.epoch }, swatch, p.partitionId, h('span', { class: 'muted' }, ` of ${p.worldId}`)),
      details,
      actions,
    )
  }
}
