/**
 * The dashboard's wiring: polls the cluster and the selected world about once a second, refreshes
 * at once when the event stream reports a map change or a planner decision, and hands the data to
 * the panels.
 */
import type { ClusterSummary, PartitionView, WorldSummary } from '../../core/api/types.ts'
import { api } from './api.ts'
import { registerOwners } from './colors.ts'
import { byId, h } from './dom.ts'
import { EventStream } from './event-stream.ts'
import { EventsPanel } from './events-panel.ts'
import { Header } from './header.ts'
import { renderLegend } from './legend.ts'
import { PartitionPanel } from './partition-panel.ts'
import { RoomsPanel } from './rooms-panel.ts'
import { WorkersPanel } from './workers-panel.ts'
import { WorldView } from './world-view.ts'
import { fmtInt } from './format.ts'

const POLL_MS = 1000
/** Events arrive in bursts (a planning round); one refresh answers the whole burst. */
const EVENT_REFRESH_DELAY_MS = 80

const header = new Header(byId('header'), () => refreshSoon())
const partitionPanel = new PartitionPanel(byId('partition-panel'), () => refreshSoon())
const worldView = new WorldView(byId('world-view'), (p) => partitionPanel.show(p))
const workers = new WorkersPanel(byId('workers'), () => refreshSoon())
const rooms = new RoomsPanel(byId('rooms'), byId<HTMLInputElement>('rooms-filter'), byId('rooms-count'))
const events = new EventsPanel(byId<HTMLOListElement>('events'))
const worldSelect = byId<HTMLSelectElement>('world-select')

/** The world on show: `#world=<id>` when given (any world, rooms too), else the first world. */
function selectedWorld(worlds: readonly WorldSummary[]): string | undefined {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('world')
  if (fromHash) return fromHash
  return worlds.find((w) => w.kind === 'world')?.id ?? worlds[0]?.id
}

worldSelect.addEventListener('change', () => {
  location.hash = `world=${encodeURIComponent(worldSelect.value)}`
})
window.addEventListener('hashchange', () => refreshSoon())

function updateWorldSelect(worlds: readonly WorldSummary[], selected: string | undefined): void {
  const ids = worlds.filter((w) => w.kind === 'world').map((w) => w.id)
  if (selected !== undefined && !ids.includes(selected)) ids.push(selected)
  const current = [...worldSelect.options].map((o) => o.value)
  if (current.join('\n') !== ids.join('\n')) worldSelect.replaceChildren(...ids.map((id) => h('option', { value: id }, id)))
  if (selected !== undefined) worldSelect.value = selected
}

let timer: ReturnType<typeof setTimeout> | undefined
let running = false
let again = false

async function refresh(): Promise<void> {
  if (running) {
    again = true
    return
  }
  running = true
  clearTimeout(timer)
  try {
    const cluster: ClusterSummary = await api.cluster()
    registerOwners(cluster.workers.map((w) => w.id))
    header.update(cluster)
    workers.update(cluster.workers)
    rooms.update(cluster.worlds)
    const worldId = selectedWorld(cluster.worlds)
    updateWorldSelect(cluster.worlds, worldId)
    if (worldId !== undefined) {
      const detail = await api.world(worldId)
      worldView.update(detail)
      renderLegend(byId('world-legend'), detail)
      const s = detail.spec
      byId('world-meta').textContent =
        `${s.bounds.maxX - s.bounds.minX} × ${s.bounds.maxY - s.bounds.minY} units · ${fmtInt(detail.partitions.length)} partitions · ` +
        `${fmtInt(s.entities)} entities · ${fmtInt(s.clients)} players · map v${s.mapVersion}`
      const still: PartitionView | null = partitionPanel.follow(detail.partitions)
      worldView.select(still?.partitionId ?? null)
    }
  } catch (err) {
    header.unreachable(err instanceof Error ? err.message : String(err))
  } finally {
    running = false
    const delay = again ? 0 : POLL_MS
    again = false
    timer = setTimeout(() => void refresh(), delay)
  }
}

let soon: ReturnType<typeof setTimeout> | undefined
function refreshSoon(): void {
  clearTimeout(soon)
  soon = setTimeout(() => void refresh(), EVENT_REFRESH_DELAY_MS)
}

const statusEl = byId('events-status')
new EventStream(
  (e) => {
    events.add(e)
    if (e.type === 'map' || e.type === 'decision' || e.type === 'operator' || e.type === 'membership') refreshSoon()
  },
  (status) => {
    statusEl.textContent = status
    statusEl.className = `badge ${status === 'live' ? 'ok' : 'warn'}`
  },
).start()

/** For tools and the browser tests: animation frame times of the world view, ms. */
;(globalThis as Record<string, unknown>)['tesseraDashboard'] = { takeFrameTimes: () => worldView.takeFrameTimes() }

void refresh()
