/**
 * Room placement (worlds of one partition): which worker gets a new room. `distributed` picks the
 * least utilised worker that fits, spreading rooms out; `packed` picks the busiest that still fits,
 * so idle workers stay idle and can be scaled down (Agones' Packed strategy).
 */
import type { WorkerInfo } from './types.ts'

export interface PlacementRequest {
  /** Every label here must be on the worker with the same value. Default none. */
  labels?: Record<string, string>
  /** Worker region (its `region` field or `region` label) must match. Default any. */
  region?: string
  /** Expected load of the room, in the tick-cost unit. */
  cost: number
}

export type PlacementResult =
  | { ok: true; workerId: string }
  | { ok: false; reason: 'no-capacity' | 'no-matching-worker'; workersWanted: number; message: string }

export interface PlacementOptions {
  /** Fraction of capacity a worker may be filled to. Default 0.9 (the planner's safety bound). */
  safetyFraction?: number
}

/** Chooses a worker for a room; `loads` holds each worker's current load (missing = 0). */
export function placeRoom(
  workers: readonly WorkerInfo[],
  loads: Readonly<Record<string, number>>,
  request: PlacementRequest,
  strategy: 'distributed' | 'packed',
  options: PlacementOptions = {},
): PlacementResult {
  const safety = options.safetyFraction ?? 0.9
  const matching = workers.filter((w) => w.live && !w.draining && w.capacity > 0 && matches(w, request))
  if (matching.length === 0) {
    return { ok: false, reason: 'no-matching-worker', workersWanted: 1, message: 'no live worker has the requested labels and region' }
  }
  let best: { id: string; util: number } | undefined
  for (const w of matching) {
    const load = loads[w.id] ?? 0
    if (load + request.cost > safety * w.capacity) continue
    const util = (load + request.cost) / w.capacity
    const better = !best || (strategy === 'packed' ? util > best.util : util < best.util) || (util === best.util && w.id < best.id)
    if (better) best = { id: w.id, util }
  }
  if (best) return { ok: true, workerId: best.id }
  const meanCap = matching.reduce((s, w) => s + w.capacity, 0) / matching.length
  return {
    ok: false, reason: 'no-capacity', message: `no matching worker has ${request.cost} to spare`,
    workersWanted: Math.max(1, Math.ceil(request.cost / (safety * meanCap))),
  }
}

function matches(w: WorkerInfo, request: PlacementRequest): boolean {
  for (const [k, v] of Object.entries(request.labels ?? {})) if (w.labels[k] !== v) return false
  if (request.region !== undefined && (w.region ?? w.labels['region']) !== request.region) return false
  return true
}
