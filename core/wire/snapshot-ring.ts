/**
 * A ring of recent snapshots keyed by tick, with reusable tables: the server keeps one per client
 * (what it sent, to encode deltas against what the client acknowledged) and the client keeps one
 * (what it received, to apply those deltas). Both sides must hold at least `size` ticks.
 */
import { EntityTable } from './entity-table.ts'

/** Default ring length: 32 ticks is 1.6 s at 20 Hz, longer than any useful delta baseline. */
export const DEFAULT_SNAPSHOT_HISTORY = 32

export class SnapshotRing {
  private readonly ticks: Float64Array
  private readonly tables: EntityTable[]

  /** @param size ticks kept (default 32). */
  constructor(readonly size = DEFAULT_SNAPSHOT_HISTORY) {
    this.ticks = new Float64Array(size).fill(-1)
    this.tables = Array.from({ length: size }, () => new EntityTable(16))
  }

  /** The table held for `tick`, if it is still in the ring. */
  get(tick: number): EntityTable | undefined {
    const slot = tick % this.size
    return this.ticks[slot] === tick ? this.tables[slot] : undefined
  }

  /**
   * The slot for `tick`, cleared and claimed (evicting whatever was there). Not a table another
   * entry still needs: a tick `size` or more older is the one replaced.
   */
  claim(tick: number): EntityTable {
    const slot = tick % this.size
    this.ticks[slot] = tick
    const t = this.tables[slot]
    if (t === undefined) throw new RangeError('ring slot missing')
    return t.clear()
  }

  /** Forget `tick` (e.g. a decode into its slot failed). */
  drop(tick: number): void {
    const slot = tick % this.size
    if (this.ticks[slot] === tick) this.ticks[slot] = -1
  }

  clear(): void {
    this.ticks.fill(-1)
  }
}
