/**
 * Ghosts: which entities a partition shows its neighbours (those within the ghost margin of a
 * shared border), and the receiving worker's store of what its neighbours showed it, per source
 * partition and epoch. Every batch carries a source's whole margin set, so a batch replaces the
 * previous one; a source that stops sending (its link broke, it moved) fades out after `ttlTicks`.
 */
import type { BorderSegment, PartitionMap } from '../../core/partition-map.ts'
import { neighbours } from '../../core/partition-map.ts'
import type { Ghost } from '../world-view.ts'

/** Default ghost margin in world units (the planner's default: partitions are at least twice as wide). */
export const DEFAULT_GHOST_MARGIN = 16

/** How far (x, y) is from the border segment: across it, or past one of its ends, whichever is more. */
export function borderDistance(x: number, y: number, border: BorderSegment): number {
  const across = Math.abs((border.axis === 'x' ? x : y) - border.at)
  const along = border.axis === 'x' ? y : x
  return Math.max(across, border.from - along, along - border.to)
}

/** Whether (x, y) lies within `margin` of the border segment (on either side). */
export function nearBorder(x: number, y: number, border: BorderSegment, margin: number): boolean {
  return borderDistance(x, y, border) <= margin
}

/** A partition's shared border segments, by the owner of the partition across each. */
export function bordersByOwner(map: PartitionMap, partitionId: string): Map<string, BorderSegment[]> {
  const out = new Map<string, BorderSegment[]>()
  for (const nb of neighbours(map, partitionId)) {
    if (nb.owner === null) continue
    const list = out.get(nb.owner)
    if (list) list.push(nb.border)
    else out.set(nb.owner, [nb.border])
  }
  return out
}

interface Source {
  epoch: number
  /** Local tick the batch arrived at. */
  at: number
  ghosts: Ghost[]
}

export class GhostStore {
  /** world → source partition → its latest batch. */
  private readonly worlds = new Map<string, Map<string, Source>>()
  /** Batches refused because their source epoch was older than the map's (or than one already seen). */
  staleDropped = 0

  /** Ticks a source's ghosts last without a new batch (default 10). */
  constructor(private readonly ttlTicks = 10) {}

  /**
   * Take a source partition's batch. Refused (false) when `epoch` is older than `mapEpoch` (what the
   * receiver's map says) or than a batch already taken from that source.
   */
  apply(worldId: string, partitionId: string, epoch: number, mapEpoch: number | undefined, ghosts: Ghost[], tick: number): boolean {
    let world = this.worlds.get(worldId)
    const prev = world?.get(partitionId)
    if ((mapEpoch !== undefined && epoch < mapEpoch) || (prev !== undefined && epoch < prev.epoch)) {
      this.staleDropped++
      return false
    }
    if (!world) {
      world = new Map()
      this.worlds.set(worldId, world)
    }
    world.set(partitionId, { epoch, at: tick, ghosts })
    return true
  }

  /**
   * Ghosts a partition (at `epoch`) should see, appended to `out`: every other live source of its
   * world, the newest batches first.
   *
   * The same partition at another epoch is another source: the retiring runner of a partition that
   * moved to another worker relays players whose entities the new owner simulates, and sees them
   * only as the new owner's ghosts. And an entity can be in two batches for a moment: the
   * partition that handed it over, until its next batch (or the empty one it sends when it stops
   * bordering us) arrives, and its new owner. The simulation keeps the first copy.
   */
  ghostsFor(worldId: string, partitionId: string, epoch: number, tick: number, out: Ghost[] = []): Ghost[] {
    const world = this.worlds.get(worldId)
    if (!world) return out
    const live: Source[] = []
    for (const [source, batch] of world) {
      if (tick - batch.at > this.ttlTicks) {
        world.delete(source)
        continue
      }
      if (source !== partitionId || batch.epoch !== epoch) live.push(batch)
    }
    if (live.length > 1) live.sort((a, b) => b.at - a.at || b.epoch - a.epoch)
    for (const batch of live) for (const g of batch.ghosts) out.push(g)
    return out
  }

  /** The source partition currently showing entity `id` as a ghost, if any (for messages to ghosts). */
  sourceOf(worldId: string, id: number): { partitionId: string; epoch: number } | undefined {
    const world = this.worlds.get(worldId)
    if (!world) return undefined
    for (const [partitionId, batch] of world) if (batch.ghosts.some((g) => g.id === id)) return { partitionId, epoch: batch.epoch }
    return undefined
  }

  forgetWorld(worldId: string): void {
    this.worlds.delete(worldId)
  }
}
