/** The two-partition world several worker tests use: `w`, 200 × 100, cut at x = 100 into p1 and p2. */
import type { Rect } from '../../../core/geometry.ts'
import type { PartitionMap } from '../../../core/partition-map.ts'

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
