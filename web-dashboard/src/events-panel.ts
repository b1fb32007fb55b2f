/** The events list, newest first: the planner's decisions and membership changes with their reasons. */
import type { ClusterEvent } from '../../core/api/types.ts'
import { h } from './dom.ts'
import { fmtClock } from './format.ts'

const MAX_EVENTS = 250

/** The "why" of a decision, when its details say more than the message's own words. */
function reason(e: ClusterEvent): string {
  const d = e.details
  if (!d) return ''
  const parts: string[] = []
  if (typeof d['kind'] === 'string') parts.push(d['kind'])
  if (typeof d['cause'] === 'string') parts.push(`cause: ${d['cause']}`)
  if (typeof d['reason'] === 'string') parts.push(`reason: ${d['reason']}`)
  return parts.join(' · ')
}

export class EventsPanel {
  constructor(private readonly list: HTMLOListElement) {}

  add(e: ClusterEvent): void {
    const why = reason(e)
    const item = h(
      'li',
      { class: `event ${e.type}`, 'data-seq': e.seq, 'data-type': e.type, title: e.details ? JSON.stringify(e.details) : undefined },
      h('time', { datetime: new Date(e.at).toISOString() }, fmtClock(e.at)),
      h('span', { class: `tag ${e.type}` }, e.type),
      h('span', { class: 'message' }, e.message),
    )
    if (why !== '') item.append(h('span', { class: 'reason' }, why))
    this.list.prepend(item)
    while (this.list.children.length > MAX_EVENTS) this.list.lastElementChild?.remove()
  }
}
