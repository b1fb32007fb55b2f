/** The workers table: load against capacity (bar and sparkline), counts, version, drain. */
import type { WorkerView } from '../../core/api/types.ts'
import { api } from './api.ts'
import { ownerColour } from './colors.ts'
import { runAction } from './dialog.ts'
import { h, setText } from './dom.ts'
import { fmtInt, fmtMs, fmtPct } from './format.ts'
import { LoadHistory, drawSparkline, sparkline } from './sparkline.ts'

interface Row {
  tr: HTMLTableRowElement
  swatch: HTMLSpanElement
  state: HTMLTableCellElement
  bar: HTMLDivElement
  barText: HTMLSpanElement
  spark: SVGSVGElement
  partitions: HTMLTableCellElement
  rooms: HTMLTableCellElement
  clients: HTMLTableCellElement
  entities: HTMLTableCellElement
  version: HTMLTableCellElement
  drain: HTMLButtonElement
}

const columns = ['Worker', 'State', 'Load / capacity (ms/s)', 'Load, last minutes', 'Partitions', 'Rooms', 'Clients', 'Entities', 'Version', '']

export class WorkersPanel {
  private readonly body: HTMLTableSectionElement
  private readonly rows = new Map<string, Row>()
  private readonly history = new LoadHistory()

  constructor(root: HTMLElement, private readonly refresh: () => void) {
    this.body = h('tbody')
    const head = h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c))))
    root.append(h('table', { class: 'table workers-table', 'data-testid': 'workers-table' }, head, this.body))
  }

  update(workers: readonly WorkerView[]): void {
    this.history.record(new Map(workers.map((w) => [w.id, w.load])))
    const seen = new Set<string>()
    // Rows are kept and updated in place: a button someone is about to click stays the same node.
    workers.forEach((w, i) => {
      seen.add(w.id)
      const row = this.rows.get(w.id) ?? this.makeRow(w.id)
      if (this.body.children[i] !== row.tr) this.body.insertBefore(row.tr, this.body.children[i] ?? null)
      this.fill(row, w)
    })
    for (const [id, row] of this.rows) {
      if (seen.has(id)) continue
      row.tr.remove()
      this.rows.delete(id)
    }
  }

  private makeRow(id: string): Row {
    const swatch = h('span', { class: 'swatch' })
    const bar = h('div', { class: 'bar-fill' })
    const barText = h('span', { class: 'bar-text' })
    const spark = sparkline()
    const drain = h('button', { class: 'danger small', 'data-action': 'drain', 'data-worker': id }, 'Drain')
    drain.addEventListener('click', () => {
      void runAction('Drain worker', `Drain ${id}? Its partitions move to other workers and it gets no new ones.`, () => api.drain(id), this.refresh)
    })
    const cell = (): HTMLTableCellElement => h('td', { class: 'num' })
    const row: Row = {
      tr: h('tr', { 'data-worker': id }),
      swatch, bar, barText, spark, drain,
      state: h('td'),
      partitions: cell(), rooms: cell(), clients: cell(), entities: cell(),
      version: h('td'),
    }
    row.tr.append(
      h('th', { scope: 'row' }, swatch, id),
      row.state,
      h('td', {}, h('div', { class: 'bar' }, bar, barText)),
      h('td', {}, spark),
      row.partitions, row.rooms, row.clients, row.entities, row.version,
      h('td', {}, drain),
    )
    this.rows.set(id, row)
    return row
  }

  private fill(row: Row, w: WorkerView): void {
    row.swatch.style.background = ownerColour(w.id)
    const stale = w.lastReportAgeMs === null ? 'no report' : w.lastReportAgeMs > 5000 ? 'stale' : ''
    setText(row.state, w.draining ? 'draining' : stale || 'live')
    row.state.className = w.draining ? 'state draining' : stale ? 'state stale' : 'state live'
    row.tr.dataset['draining'] = String(w.draining)
    row.bar.style.width = `${Math.min(100, w.loadRatio * 100).toFixed(1)}%`
    row.bar.classList.toggle('hot', w.loadRatio > 0.8)
    setText(row.barText, `${fmtMs(w.load)} / ${fmtInt(w.capacity)} (${fmtPct(w.loadRatio)})`)
    drawSparkline(row.spark, this.history.get(w.id), 'ms/s')
    setText(row.partitions, fmtInt(w.partitions))
    setText(row.rooms, fmtInt(w.rooms))
    setText(row.clients, fmtInt(w.clients))
    setText(row.entities, fmtInt(w.entities))
    setText(row.version, w.version)
    row.drain.disabled = w.draining
  }
}
