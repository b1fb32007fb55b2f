/**
 * Turns what the coordinator knows (the store's view and the load table) into the planner's input.
 * A partition's report counts only when it comes from the leaf's current owner at the leaf's
 * current epoch: anything else describes a past that the map has moved on from.
 */
import type { PartitionMap } from '../core/partition-map.ts'
import { leaves } from '../core/partition-map.ts'
import type { LoadTable } from './load-table.ts'
import type { PartitionLoad, WorkerInfo, WorldInput } from './planner/index.ts'
import type { ClusterView } from './view.ts'

export function workerInfos(view: ClusterView): WorkerInfo[] {
  return view.liveWorkers().map((w) => {
    const info: WorkerInfo = { id: w.id, capacity: w.capacity, live: true, draining: w.draining, labels: w.labels }
    if (w.region !== undefined) info.region = w.region
    return info
  })
}

/** Reported loads of a map's leaves, keyed by leaf id. */
export function leafLoads(map: PartitionMap, loads: LoadTable): Record<string, PartitionLoad> {
  const out: Record<string, PartitionLoad> = {}
  const current = new Map(leaves(map).map((info) => [info.leaf.id, info.leaf]))
  for (const { workerId, report } of loads.fresh()) {
    for (const p of report.partitions) {
      const ref = p.partition
      if (!ref || ref.worldId !== map.worldId) continue
      const leaf = current.get(ref.partitionId)
      if (!leaf || leaf.owner !== workerId || leaf.epoch !== ref.epoch) continue
      out[leaf.id] = {
        tickCostMs: p.tickCostMs,
        entities: p.entities,
        clients: p.clients,
        summary: p.summary.flatMap((w) => (w.rect ? [{ ...w.rect, weight: w.weight }] : [])),
      }
    }
  }
  return out
}

export function worldInputs(view: ClusterView, loads: LoadTable): WorldInput[] {
  const out: WorldInput[] = []
  for (const entry of view.maps.values()) {
    const map = entry.value
    // A room is one partition for its whole life: only its owner may change.
    const fixedLayout = view.world(map.worldId)?.kind === 'room'
    out.push({ map, loads: leafLoads(map, loads), fixedLayout })
  }
  return out.sort((a, b) => (a.map.worldId < b.map.worldId ? -1 : 1))
}

/** Total reported load per worker (ms of simulation per second). */
export function workerLoads(loads: LoadTable): Record<string, number> {
  const out: Record<string, number> = {}
  for (const { workerId, report } of loads.fresh()) {
    out[workerId] = report.partitions.reduce((sum, p) => sum + p.tickCostMs, 0)
  }
  return out
}
