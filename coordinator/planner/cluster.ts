/**
 * The workers as a round sees them: load per worker (kept current as decisions move partitions),
 * capacity, who may receive partitions, and which leaves each one holds.
 */
import type { PlannerConfig } from './config.ts'
import type { WLeaf } from './work-tree.ts'
import type { WorkerInfo } from './types.ts'

export interface WorkerSlot {
  info: WorkerInfo
  load: number
  leaves: Set<WLeaf>
}

/** Load over capacity; a worker without capacity is infinitely busy with any load, idle with none. */
export function utilisation(load: number, capacity: number): number {
  if (capacity > 0) return load / capacity
  return load > 0 ? Number.POSITIVE_INFINITY : 0
}

export class Cluster {
  readonly slots = new Map<string, WorkerSlot>()
  /** Live, not draining, with capacity: may receive partitions. Sorted by id for deterministic ties. */
  readonly eligible: WorkerSlot[]
  /** Total capacity of the eligible workers. */
  readonly capacity: number

  constructor(workers: readonly WorkerInfo[], readonly config: PlannerConfig) {
    const sorted = [...workers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    for (const info of sorted) if (info.live) this.slots.set(info.id, { info, load: 0, leaves: new Set() })
    this.eligible = [...this.slots.values()].filter((s) => !s.info.draining && s.info.capacity > 0)
    this.capacity = this.eligible.reduce((sum, s) => sum + s.info.capacity, 0)
  }

  /** The live worker owning `leaf`, if any. */
  ownerOf(leaf: WLeaf): WorkerSlot | undefined {
    return leaf.owner === null ? undefined : this.slots.get(leaf.owner)
  }

  add(leaf: WLeaf): void {
    const slot = this.ownerOf(leaf)
    if (!slot) return
    slot.load += leaf.load
    slot.leaves.add(leaf)
  }

  remove(leaf: WLeaf): void {
    const slot = this.ownerOf(leaf)
    if (!slot || !slot.leaves.delete(leaf)) return
    slot.load -= leaf.load
  }

  /** Utilisation: load over capacity (infinite for a worker without capacity that holds load). */
  util(slot: WorkerSlot, extra = 0): number {
    return utilisation(slot.load + extra, slot.info.capacity)
  }

  /** Whether `slot` can take `load` more and stay within its safety bound. */
  hasRoom(slot: WorkerSlot, load: number): boolean {
    return slot.load + load <= this.config.safetyFraction * slot.info.capacity
  }

  /** Least-utilised eligible worker (after adding `load`) that passes `accept`; ties go to the lower id. */
  coolest(load: number, accept: (s: WorkerSlot) => boolean = () => true): WorkerSlot | undefined {
    let best: WorkerSlot | undefined
    let bestU = Number.POSITIVE_INFINITY
    for (const s of this.eligible) {
      if (!accept(s)) continue
      const u = this.util(s, load)
      if (u < bestU) {
        best = s
        bestU = u
      }
    }
    return best
  }

  /** Most-utilised eligible worker passing `accept`. */
  hottest(accept: (s: WorkerSlot) => boolean = () => true): WorkerSlot | undefined {
    let best: WorkerSlot | undefined
    let bestU = Number.NEGATIVE_INFINITY
    for (const s of this.eligible) {
      if (!accept(s)) continue
      const u = this.util(s)
      if (u > bestU) {
        best = s
        bestU = u
      }
    }
    return best
  }

  /**
   * Where a homeless leaf goes: the coolest worker with room, else simply the coolest; preferring,
   * at each step, those that pass `preferred`.
   */
  home(load: number, preferred: (s: WorkerSlot) => boolean = () => true): WorkerSlot | undefined {
    const room = (s: WorkerSlot) => this.hasRoom(s, load)
    return this.coolest(load, (s) => preferred(s) && room(s)) ?? this.coolest(load, room) ?? this.coolest(load, preferred) ?? this.coolest(load)
  }
}
