/**
 * The rooms list: worlds of kind 'room' from the cluster summary. The summary does not name a room's
 * worker, so each room's detail is fetched once per map version (its owner changes only with it).
 */
import type { WorldSummary } from '../../core/api/types.ts'
import { api } from './api.ts'
import { h, setText } from './dom.ts'
import { fmtAge, fmtInt } from './format.ts'

/** Detail fetches per refresh: thousands of new rooms are looked up over a few seconds, not at once. */
const LOOKUPS_PER_REFRESH = 24
/** Rows drawn at most; the filter narrows the rest. */
const MAX_ROWS = 200

interface Owner {
  mapVersion: number
  workers: string[]
}

export function roomState(room: WorldSummary, owner: Owner | undefined): string {
  if (owner === undefined) return 'looking up'
  if (owner.workers.length === 0) return 'unplaced'
  if (room.maxPlayers !== undefined && room.clients >= room.maxPlayers) return 'full'
  return room.clients === 0 ? 'empty' : 'open'
}

export class RoomsPanel {
  private readonly body: HTMLTableSectionElement
  private readonly owners = new Map<string, Owner>()
  private readonly pending = new Set<string>()
  private rooms: WorldSummary[] = []

  constructor(
    root: HTMLElement,
    private readonly filter: HTMLInputElement,
    private readonly count: HTMLElement,
  ) {
    this.body = h('tbody')
    const cols = ['Room', 'Mode', 'Players', 'Worker', 'Age', 'State']
    const head = h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c))))
    root.append(h('table', { class: 'table rooms-table', 'data-testid': 'rooms-table' }, head, this.body))
    filter.addEventListener('input', () => this.render())
  }

  update(worlds: readonly WorldSummary[]): void {
    this.rooms = worlds.filter((w) => w.kind === 'room')
    const ids = new Set(this.rooms.map((r) => r.id))
    for (const id of this.owners.keys()) if (!ids.has(id)) this.owners.delete(id)
    this.lookUp()
    this.render()
  }

  private lookUp(): void {
    const stale = this.rooms.filter((r) => this.owners.get(r.id)?.mapVersion !== r.mapVersion && !this.pending.has(r.id))
    for (const room of stale.slice(0, LOOKUPS_PER_REFRESH)) {
      this.pending.add(room.id)
      api.world(room.id).then(
        (detail) => {
          const workers = [...new Set(detail.partitions.map((p) => p.owner).filter((o): o is string => o !== null))]
          this.owners.set(room.id, { mapVersion: detail.spec.mapVersion, workers })
          this.pending.delete(room.id)
          this.render()
        },
        // A room closed meanwhile, or the coordinator blinked: the next refresh tries again.
        () => this.pending.delete(room.id),
      )
    }
  }

  private render(): void {
    const terms = this.filter.value.trim().toLowerCase().split(/\s+/).filter((t) => t !== '')
    const now = Date.now()
    const rows = this.rooms.map((r) => {
      const owner = this.owners.get(r.id)
      const worker = owner?.workers.join(', ') ?? '…'
      const state = roomState(r, owner)
      const players = r.maxPlayers !== undefined ? `${fmtInt(r.clients)} / ${fmtInt(r.maxPlayers)}` : fmtInt(r.clients)
      return { r, worker, state, players, haystack: `${r.id} ${worker} ${r.mode ?? ''} ${state}`.toLowerCase() }
    })
    const shown = rows.filter((row) => terms.every((t) => row.haystack.includes(t)))
    setText(this.count, terms.length > 0 ? `${shown.length} of ${rows.length}` : `${rows.length}`)
    if (shown.length === 0) {
      const text = rows.length === 0 ? 'No rooms.' : 'No room matches the filter.'
      this.body.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, text)))
      return
    }
    const trs = shown.slice(0, MAX_ROWS).map(({ r, worker, state, players }) =>
      h(
        'tr',
        { 'data-room': r.id, 'data-state': state },
        h('th', { scope: 'row' }, r.id),
        h('td', {}, r.mode ?? '—'),
        h('td', { class: 'num' }, players),
        h('td', {}, worker),
        h('td', { class: 'num' }, fmtAge(now - r.createdAt)),
        h('td', {}, h('span', { class: `state ${state.replace(' ', '-')}` }, state)),
      ),
    )
    if (shown.length > MAX_ROWS) trs.push(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, `${shown.length - MAX_ROWS} more; narrow the filter`)))
    this.body.replaceChildren(...trs)
  }
}
