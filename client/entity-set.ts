/**
 * The entity set game code sees: dequantised `EntityView`s keyed by id, kept consistent across
 * reconnections. Within a session it follows the snapshot receiver's added/updated/removed; the
 * first snapshot of a new session (the receiver was reset, so everything looks "added") is
 * reconciled against what the game already has, so an entity that was there before and still is
 * arrives as an update, and one that is gone arrives as a removal — never a duplicate add.
 */
import { dequantizeEntity } from '../core/wire/entity-table.ts'
import type { EntityView, WireEntity } from '../core/wire/entity-table.ts'

export type { EntityView } from '../core/wire/entity-table.ts'

export interface EntityChanges {
  added: EntityView[]
  updated: EntityView[]
  removed: number[]
}

export interface SnapshotDelta {
  added: readonly WireEntity[]
  updated: readonly WireEntity[]
  removed: readonly number[]
}

export class EntitySet {
  private readonly byId = new Map<number, EntityView>()

  get size(): number {
    return this.byId.size
  }

  get(id: number): EntityView | undefined {
    return this.byId.get(id)
  }

  values(): IterableIterator<EntityView> {
    return this.byId.values()
  }

  /**
   * Apply one snapshot's changes. With `fresh` (the first snapshot after a receiver reset), `delta`
   * holds the whole new set in `added` and is reconciled against the current set.
   */
  apply(delta: SnapshotDelta, fresh: boolean): EntityChanges {
    const out: EntityChanges = { added: [], updated: [], removed: [] }
    if (fresh) {
      const present = new Set<number>()
      for (const e of delta.added) present.add(e.id)
      for (const id of this.byId.keys()) {
        if (!present.has(id)) out.removed.push(id)
      }
      for (const id of out.removed) this.byId.delete(id)
    } else {
      for (const id of delta.removed) {
        if (this.byId.delete(id)) out.removed.push(id)
      }
    }
    for (const e of delta.added) this.put(dequantizeEntity(e), out)
    for (const e of delta.updated) this.put(dequantizeEntity(e), out)
    return out
  }

  /** Forget everything; returns the ids that were present (to report as removed). */
  clear(): number[] {
    const ids = [...this.byId.keys()]
    this.byId.clear()
    return ids
  }

  private put(view: EntityView, out: EntityChanges): void {
    const prev = this.byId.get(view.id)
    this.byId.set(view.id, view)
    if (prev === undefined) out.added.push(view)
    else if (!sameView(prev, view)) out.updated.push(view)
  }
}

function sameView(a: EntityView, b: EntityView): boolean {
  return a.x === b.x && a.y === b.y && a.heading === b.heading && a.speed === b.speed && a.kind === b.kind && a.flags === b.flags && a.hp === b.hp
}
