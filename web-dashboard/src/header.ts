/** The cluster header: the totals an operator glances at, and the rebalancing switch. */
import type { ClusterSummary } from '../../core/api/types.ts'
import { api } from './api.ts'
import { runAction } from './dialog.ts'
import { h, setText } from './dom.ts'
import { fmtInt, fmtMs, fmtPct } from './format.ts'

type Stat = 'workers' | 'draining' | 'worlds' | 'rooms' | 'players' | 'partitions' | 'load' | 'wanted' | 'leader'

const labels: Record<Stat, string> = {
  workers: 'workers live',
  draining: 'draining',
  worlds: 'worlds',
  rooms: 'rooms',
  players: 'players online',
  partitions: 'partitions',
  load: 'load / capacity',
  wanted: 'wanted workers',
  leader: 'leader',
}

export class Header {
  private readonly values = new Map<Stat, HTMLElement>()
  private readonly rebalancing: HTMLSpanElement
  private readonly toggle: HTMLButtonElement
  private readonly status: HTMLSpanElement
  private paused = false

  constructor(root: HTMLElement, private readonly refresh: () => void) {
    const stats = h('dl', { class: 'stats' })
    for (const [key, label] of Object.entries(labels) as [Stat, string][]) {
      const value = h('dd', { 'data-stat': key }, '–')
      this.values.set(key, value)
      stats.append(h('div', { class: 'stat' }, h('dt', {}, label), value))
    }
    this.rebalancing = h('span', { class: 'badge', 'data-testid': 'rebalancing' }, '–')
    this.toggle = h('button', { 'data-action': 'toggle-rebalancing' }, 'Pause rebalancing')
    this.toggle.addEventListener('click', () => {
      const action = this.paused ? 'resume' : 'pause'
      const text = this.paused
        ? 'Resume rebalancing? The planner moves, splits and merges partitions again.'
        : 'Pause rebalancing? The planner stops moving, splitting and merging partitions; orphaned and draining partitions still move.'
      void runAction(this.paused ? 'Resume rebalancing' : 'Pause rebalancing', text, () => api.rebalancing(action), this.refresh)
    })
    this.status = h('span', { class: 'muted', 'data-testid': 'api-status' })
    root.append(
      h('div', { class: 'brand' }, h('h1', {}, 'Tessera'), h('span', { class: 'muted' }, 'cluster dashboard')),
      stats,
      h('div', { class: 'controls' }, h('span', { class: 'muted' }, 'rebalancing'), this.rebalancing, this.toggle, this.status),
    )
  }

  update(c: ClusterSummary): void {
    const t = c.totals
    this.set('workers', fmtInt(t.workers - t.draining))
    this.set('draining', fmtInt(t.draining))
    this.set('worlds', fmtInt(t.worlds))
    this.set('rooms', fmtInt(t.rooms))
    this.set('players', fmtInt(t.clients))
    this.set('partitions', fmtInt(t.partitions))
    this.set('load', `${fmtMs(t.load)} / ${fmtInt(t.capacity)} ms/s (${fmtPct(t.capacity > 0 ? t.load / t.capacity : 0)})`)
    this.set('wanted', c.workersWanted > 0 ? `+${c.workersWanted} (add)` : c.workersWanted < 0 ? `${c.workersWanted} (could remove)` : '0')
    this.set('leader', c.leader ? `${c.leader.id}${c.self.leading ? '' : ' (this one follows)'}` : 'none')
    this.paused = c.paused
    setText(this.rebalancing, c.paused ? 'paused' : 'running')
    this.rebalancing.className = `badge ${c.paused ? 'warn' : 'ok'}`
    this.rebalancing.dataset['paused'] = String(c.paused)
    setText(this.toggle, c.paused ? 'Resume rebalancing' : 'Pause rebalancing')
    this.toggle.dataset['action'] = c.paused ? 'resume' : 'pause'
    setText(this.status, `updated ${new Date().toLocaleTimeString('en-GB', { hour12: false })}`)
    this.status.classList.remove('error')
  }

  unreachable(message: string): void {
    setText(this.status, message)
    this.status.classList.add('error')
  }

  private set(key: Stat, text: string): void {
    const el = this.values.get(key)
    if (el) setText(el, text)
  }
}
