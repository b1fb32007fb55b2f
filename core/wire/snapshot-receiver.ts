/**
 * The client's side of snapshots: applies deltas against the baselines it holds, drops stale or
 * duplicate snapshots, remembers which tick to acknowledge, and reports what changed since the last
 * snapshot it applied (entities added, updated, removed).
 */
import { EntityTable } from './entity-table.ts'
import type { WireEntity } from './entity-table.ts'
import { DecodeError } from './errors.ts'
import { SnapshotDecoder, readSnapshotHeader } from './snapshot-codec.ts'
import { DEFAULT_SNAPSHOT_HISTORY, SnapshotRing } from './snapshot-ring.ts'

export interface SnapshotApplied {
  kind: 'applied'
  tick: number
  /** Highest input sequence the server had applied: inputs up to it need not be resent. */
  ackInputSeq: number
  added: WireEntity[]
  updated: WireEntity[]
  /** Ids of entities that left the area of interest or the world. */
  removed: number[]
}

/** A snapshot older than (or equal to) one already applied: unordered channels deliver these. */
export interface SnapshotStale {
  kind: 'stale'
  tick: number
}

export type SnapshotResult = SnapshotApplied | SnapshotStale

export interface SnapshotReceiverOptions {
  /** Snapshots kept as delta baselines; must be ≥ the server's history (default 32). */
  history?: number
  /**
   * Report what changed with each snapshot applied (`added`, `updated`, `removed`). Default true.
   * Without, those lists are always empty and applying a snapshot allocates nothing per entity:
   * for a reader of `state` or `entity(id)` alone.
   */
  changes?: boolean
}

/** The lists of a snapshot applied without reporting changes: empty, shared, never to be filled. */
const NO_ENTITIES: WireEntity[] = Object.freeze([]) as unknown as WireEntity[]
const NO_IDS: number[] = Object.freeze([]) as unknown as number[]

export class SnapshotReceiver {
  private readonly ring: SnapshotRing
  private readonly decoder = new SnapshotDecoder()
  private readonly latest = new EntityTable(16)
  private readonly scratch = new EntityTable(16)
  private latestTickValue: number | null = null
  private readonly lookup = (tick: number): EntityTable | undefined => this.ring.get(tick)
  private readonly changes: boolean

  constructor(options: SnapshotReceiverOptions = {}) {
    this.ring = new SnapshotRing(options.history ?? DEFAULT_SNAPSHOT_HISTORY)
    this.changes = options.changes ?? true
  }

  /** Whether applied snapshots report what changed (`SnapshotReceiverOptions.changes`). */
  get reportsChanges(): boolean {
    return this.changes
  }

  /** Tick of the newest snapshot applied: the one to acknowledge. Null before the first. */
  get latestTick(): number | null {
    return this.latestTickValue
  }

  /** The full entity set of the newest snapshot (id-sorted, quantised). Do not mutate. */
  get state(): EntityTable {
    return this.latest
  }

  /** The entity with `id` in the newest snapshot. */
  entity(id: number): WireEntity | undefined {
    const i = this.latest.indexOf(id)
    return i < 0 ? undefined : this.latest.get(i)
  }

  /** Apply one SNAPSHOT datagram. Never throws; a `DecodeError` leaves the state as it was. */
  receive(bytes: Uint8Array): SnapshotResult | DecodeError {
    const header = readSnapshotHeader(bytes)
    if (header instanceof DecodeError) return header
    if (this.latestTickValue !== null && header.tick <= this.latestTickValue) return { kind: 'stale', tick: header.tick }
    // A baseline in the slot we are about to overwrite would be gone; the ring size prevents it,
    // but a hostile server could try: refuse rather than decode from a cleared table.
    if (header.baseTick !== null && header.tick - header.baseTick >= this.ring.size) {
      return new DecodeError('unknown_baseline', `baseline ${header.baseTick} older than the history`)
    }
    // Decode aside first: claiming the ring slot up front would evict a good baseline for a
    // snapshot that then turns out to be garbage.
    const decoded = this.decoder.decode(bytes, this.lookup, this.scratch)
    if (decoded instanceof DecodeError) return decoded
    const out = this.ring.claim(header.tick)
    out.copyFrom(this.scratch)
    const result: SnapshotApplied = this.changes
      ? diff(this.latest, out, header.tick, header.ackInputSeq)
      : { kind: 'applied', tick: header.tick, ackInputSeq: header.ackInputSeq, added: NO_ENTITIES, updated: NO_ENTITIES, removed: NO_IDS }
    // A copy, not the ring slot: a later snapshot far ahead may reuse that slot before diffing.
    this.latest.copyFrom(out)
    this.latestTickValue = header.tick
    return result
  }

  /** Forget everything (after a reconnect to another worker). */
  reset(): void {
    this.ring.clear()
    this.latest.clear()
    this.latestTickValue = null
  }
}

function diff(prev: EntityTable, next: EntityTable, tick: number, ackInputSeq: number): SnapshotApplied {
  const added: WireEntity[] = []
  const updated: WireEntity[] = []
  const removed: number[] = []
  let i = 0
  let j = 0
  while (i < prev.count || j < next.count) {
    const a = i < prev.count ? prev.id(i) : Infinity
    const b = j < next.count ? next.id(j) : Infinity
    if (a < b) {
      removed.push(a)
      i++
    } else if (a > b) {
      added.push(next.get(j++))
    } else {
      if (!prev.rowEquals(i, next, j)) updated.push(next.get(j))
      i++
      j++
    }
  }
  return { kind: 'applied', tick, ackInputSeq, added, updated, removed }
}
