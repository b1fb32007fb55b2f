/** Checks a simulation (and the property tests) apply after every plan. Each returns problems found. */
import type { PartitionMap } from '../../core/partition-map.ts'
import { leaves, validateMap } from '../../core/partition-map.ts'
import type { WorkerInfo } from '../../coordinator/planner/types.ts'

/** Tiling and well-formedness. */
export function tilingProblems(map: PartitionMap): string[] {
  return validateMap(map).map((p) => `${map.worldId}: ${p}`)
}

/** Every leaf has one live, non-draining owner — when such a worker exists. */
export function ownerProblems(map: PartitionMap, workers: readonly WorkerInfo[]): string[] {
  const ok = new Set(workers.filter((w) => w.live && !w.draining && w.capacity > 0).map((w) => w.id))
  if (ok.size === 0) return []
  const out: string[] = []
  for (const { leaf } of leaves(map)) {
    if (leaf.owner === null || !ok.has(leaf.owner)) out.push(`${map.worldId}/${leaf.id}: owner ${String(leaf.owner)} is not live and eligible`)
  }
  return out
}

/** Epochs of surviving leaves never fall, and rise when the owner changed. */
export function epochProblems(before: PartitionMap, after: PartitionMap): string[] {
  const old = new Map(leaves(before).map((l) => [l.leaf.id, l.leaf]))
  const out: string[] = []
  for (const { leaf } of leaves(after)) {
    const prev = old.get(leaf.id)
    if (!prev) continue
    if (leaf.epoch < prev.epoch) out.push(`${leaf.id}: epoch fell ${prev.epoch} → ${leaf.epoch}`)
    if (leaf.owner !== prev.owner && leaf.epoch <= prev.epoch) out.push(`${leaf.id}: owner changed without a new epoch`)
  }
  return out
}
