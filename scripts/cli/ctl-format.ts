/**
 * How `tessera ctl` shows the operator API's answers to people: aligned tables and one-line
 * summaries. Pure functions of the API's JSON shapes, so they are easy to test and to change.
 */
import type { ApiRect, ClusterEvent, ClusterSummary, WorldDetail } from '../../core/api/types.ts'

type Cell = string | number

/** A number, maybe with a unit (`20.0`, `8%`, `250ms`), or `-` for none. */
const numberLike = (c: Cell | undefined) => typeof c === 'number' || (typeof c === 'string' && /^(-?\d[\d.]*(%|ms|s|m)?|-)$/.test(c))

/** Columns padded to their widest cell; numeric columns align right, text left. Two spaces between. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)))
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => numberLike(r[i])) && rows.some((r) => r[i] !== '-'))
  const line = (cells: readonly Cell[]) =>
    cells
      .map((c, i) => {
        const text = String(c)
        const width = widths[i] ?? text.length
        return numeric[i] ? text.padStart(width) : text.padEnd(width)
      })
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

const ms = (value: number) => value.toFixed(1)
const percent = (ratio: number) => `${Math.round(ratio * 100)}%`
const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`

export function formatRect(r: ApiRect): string {
  return `${r.minX},${r.minY} → ${r.maxX},${r.maxY}`
}

export function formatAge(ageMs: number | null): string {
  if (ageMs === null) return 'never'
  if (ageMs < 1000) return `${Math.round(ageMs)}ms`
  if (ageMs < 120_000) return `${(ageMs / 1000).toFixed(1)}s`
  return `${Math.round(ageMs / 60_000)}m`
}

export function formatWorkers(cluster: ClusterSummary): string {
  const rows = cluster.workers.map((w) => [
    w.id,
    w.draining ? 'draining' : 'active',
    ms(w.load),
    ms(w.capacity),
    percent(w.loadRatio),
    w.partitions,
    w.rooms,
    w.clients,
    w.entities,
    formatAge(w.lastReportAgeMs),
    w.version,
    w.grpcAddress,
  ])
  const table =
    rows.length === 0
      ? 'no workers'
      : formatTable(['WORKER', 'STATE', 'LOAD', 'CAPACITY', 'USE', 'PARTITIONS', 'ROOMS', 'CLIENTS', 'ENTITIES', 'REPORTED', 'VERSION', 'GRPC'], rows)
  return `${table}\n\n${formatClusterLine(cluster)}`
}

/** One line about the whole cluster: totals, leader, rebalancing state, wanted workers. */
export function formatClusterLine(cluster: ClusterSummary): string {
  const t = cluster.totals
  const use = t.capacity > 0 ? ` (${percent(t.load / t.capacity)})` : ''
  const wanted = cluster.workersWanted > 0 ? `+${cluster.workersWanted}` : String(cluster.workersWanted)
  return [
    `${plural(t.workers, 'worker')} (${t.draining} draining)`,
    `load ${ms(t.load)} / ${ms(t.capacity)} ms/s${use}`,
    `${plural(t.worlds, 'world')}, ${plural(t.rooms, 'room')}, ${plural(t.partitions, 'partition')}`,
    `leader ${cluster.leader ? cluster.leader.id : 'none'}${cluster.self.leading ? '' : ` (answered by standby ${cluster.self.id})`}`,
    `rebalancing ${cluster.paused ? 'PAUSED' : 'on'}`,
    `workers wanted ${wanted}`,
  ].join(' · ')
}

export function formatWorlds(cluster: ClusterSummary): string {
  if (cluster.worlds.length === 0) return 'no worlds'
  const rows = cluster.worlds.map((w) => [w.id, w.kind, w.partitions, w.entities, w.clients, w.mapVersion, formatRect(w.bounds)])
  return formatTable(['WORLD', 'KIND', 'PARTITIONS', 'ENTITIES', 'CLIENTS', 'MAP', 'BOUNDS'], rows)
}

export function formatWorld(world: WorldDetail): string {
  const s = world.spec
  const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`)
  const header = [
    `${s.kind} ${s.id} · bounds ${formatRect(s.bounds)} · map version ${s.mapVersion}`,
    `${plural(s.partitions, 'partition')} · ${plural(s.entities, 'entity', 'entities')} · ${plural(s.clients, 'client')}` +
      (s.mode ? ` · mode ${s.mode}` : '') +
      (s.maxPlayers !== undefined ? ` · max ${s.maxPlayers} players` : '') +
      (s.region ? ` · region ${s.region}` : ''),
    ...(labels.length > 0 ? [`labels ${labels.join(',')}`] : []),
  ]
  const rows = world.partitions.map((p) => [
    p.id,
    p.owner ?? '(none)',
    p.epoch,
    p.pinned ? 'pinned' : '-',
    p.load ? ms(p.load.tickCostMs) : '-',
    p.load ? p.load.entities : '-',
    p.load ? p.load.clients : '-',
    p.mergeableWith ?? '-',
    formatRect(p.rect),
  ])
  const table = formatTable(['PARTITION', 'OWNER', 'EPOCH', 'PINNED', 'LOAD', 'ENTITIES', 'CLIENTS', 'MERGES WITH', 'RECT'], rows)
  return `${header.join('\n')}\n\n${table}`
}

/** `12:03:04.567  #42  map        moved p3 of w1 ...` */
export function formatEvent(event: ClusterEvent): string {
  const time = new Date(event.at).toISOString().slice(11, 23)
  return `${time}  #${event.seq}  ${event.type.padEnd(10)}  ${event.message}`
}
