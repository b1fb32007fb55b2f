/**
 * The two-worker test world `w` (200 × 100, workers wA and wB), as partition maps: split at
 * x = 100, and with its east half cut again at y = 50.
 */
import type { Rect } from '../../core/geometry.ts'
import type { PartitionMap } from '../../core/partition-map.ts'

export const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 200, maxY: 100 }

/** `w` split at x = 100: p1 (low) owned by `p1Owner` at `p1Epoch`, p2 (high) by wB at epoch 1. */
export function splitMap(p1Owner: string, p1Epoch: number): PartitionMap {
  return {
    worldId: 'w', bounds: BOUNDS, version: p1Epoch, nextId: 3,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: 100,
      low: { kind: 'leaf', id: 'p1', owner: p1Owner, epoch: p1Epoch },
      high: { kind: 'leaf', id: 'p2', owner: 'wB', epoch: 1 },
    },
  }
}

/** `w` with p1 (x < 100) and, east of it, p3 (y < 50) and p4 (y ≥ 50): owners as given, epoch 1. */
export function eastHalvesMap(owners: { p1: string; p3: string; p4: string }, version = 1): PartitionMap {
  return {
    worldId: 'w', bounds: BOUNDS, version, nextId: 5,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: 100,
      low: { kind: 'leaf', id: 'p1', owner: owners.p1, epoch: 1 },
      high: {
        kind: 'split', id: 'p2', axis: 'y', at: 50,
        low: { kind: 'leaf', id: 'p3', owner: owners.p3, epoch: 1 },
        high: { kind: 'leaf', id: 'p4', owner: owners.p4, epoch: 1 },
      },
    },
  }
}
