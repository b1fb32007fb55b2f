/**
 * Entity ids of a world: unique across all of its partitions, their owners and their workers'
 * restarts. Entities walk between partitions and workers, and a partition's new owner (a move, a
 * failover) cannot know which ids its predecessors handed out to entities that live on elsewhere;
 * so ids are not derived from partition ids and epochs but taken from one counter per world in the
 * cluster store (`entity-ids/{worldId}`), a block of `ID_BLOCK` ids per compare-and-swap.
 *
 * Each worker keeps a few spare blocks per world (`EntityIdBlocks`), refilled in the background
 * when they run low, so a partition hands out ids synchronously (`BlockIdSource`), as spawning
 * requires. The counter wraps after the wire's 2^30 ids: an id comes back only after a world has
 * handed out a billion others.
 */
import type { Logger } from '../core/log.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import type { EntityIdSource } from './simulation.ts'

/** Ids per block. */
export const ID_BLOCK = 1024
/** Ids are 1 … 2^30 on the wire: block b holds b·ID_BLOCK + 1 … (b + 1)·ID_BLOCK. */
export const ID_BLOCKS = Math.floor(2 ** 30 / ID_BLOCK)

export interface EntityIdBlocksOptions {
  store: ClusterStore
  keys: Keys
  logger: Logger
  /** Spare blocks kept per world: a refill starts below half of it. Default 8. */
  spare?: number
}

interface Pool {
  /** Ready blocks, oldest first (block numbers). */
  blocks: number[]
  refill: Promise<void> | undefined
}

export class EntityIdBlocks {
  private readonly pools = new Map<string, Pool>()
  private readonly spare: number
  private closed = false

  constructor(private readonly options: EntityIdBlocksOptions) {
    this.spare = Math.max(2, options.spare ?? 8)
  }

  /** Whether a world has `ids` ids ready now (in whole blocks; at least one block). */
  ready(worldId: string, ids = 1): boolean {
    return (this.pools.get(worldId)?.blocks.length ?? 0) >= blocksFor(ids)
  }

  /**
   * Reserve spare blocks for a world (one compare-and-swap, retried while other workers win the
   * race): the spares, or enough blocks for `ids` ids and half the spares besides when that is more.
   * Concurrent calls share one reservation (a caller that needs more checks `ready` once it is
   * done and fills again). Rejects when the store cannot be reached.
   */
  fill(worldId: string, ids = 1): Promise<void> {
    const pool = this.pool(worldId)
    const want = Math.max(this.spare, blocksFor(ids) + Math.ceil(this.spare / 2))
    pool.refill ??= this.reserve(worldId, want - pool.blocks.length).then(
      (blocks) => {
        pool.blocks.push(...blocks)
        pool.refill = undefined
      },
      (err: unknown) => {
        pool.refill = undefined
        throw err
      },
    )
    return pool.refill
  }

  /** The first id of a ready block (taken from the pool), or undefined when none is. */
  take(worldId: string): number | undefined {
    const pool = this.pool(worldId)
    const block = pool.blocks.shift()
    if (pool.blocks.length < this.spare / 2 && !this.closed) {
      this.fill(worldId).catch((err: unknown) => this.options.logger.warn({ err, world: worldId }, 'could not reserve entity ids'))
    }
    return block === undefined ? undefined : block * ID_BLOCK + 1
  }

  /** Ids for one partition of a world: a block at a time from this pool. */
  source(worldId: string): BlockIdSource {
    return new BlockIdSource(() => this.take(worldId))
  }

  /** No more refills (the worker stops). */
  close(): void {
    this.closed = true
  }

  private pool(worldId: string): Pool {
    let pool = this.pools.get(worldId)
    if (!pool) {
      pool = { blocks: [], refill: undefined }
      this.pools.set(worldId, pool)
    }
    return pool
  }

  private async reserve(worldId: string, count: number): Promise<number[]> {
    const { store, keys } = this.options
    const key = keys.entityIds(worldId)
    const n = Math.max(1, count)
    for (;;) {
      const current = await store.get(key)
      const next = current === undefined ? 0 : Number(current.value)
      const first = Number.isInteger(next) && next >= 0 ? next % ID_BLOCKS : 0
      const value = String((first + n) % ID_BLOCKS)
      const res = await store.txn({
        compare: [current === undefined ? { key, target: 'createRevision', op: '==', value: 0 } : { key, target: 'modRevision', op: '==', value: current.modRevision }],
        success: [{ type: 'put', key, value }],
      })
      if (res.succeeded) return Array.from({ length: n }, (_, i) => (first + i) % ID_BLOCKS)
    }
  }
}

/** Blocks that hold `ids` ids (at least one). */
function blocksFor(ids: number): number {
  return Math.max(1, Math.ceil(ids / ID_BLOCK))
}

/** One partition's ids: the block it is in, then the next one its pool has ready. */
export class BlockIdSource implements EntityIdSource {
  private nextId = 0
  private end = 0

  constructor(private readonly takeBlock: () => number | undefined) {}

  next(): number | undefined {
    if (this.nextId >= this.end) {
      const first = this.takeBlock()
      if (first === undefined) return undefined
      this.nextId = first
      this.end = first + ID_BLOCK
    }
    return this.nextId++
  }
}
