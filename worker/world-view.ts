/**
 * The world as of the end of a tick, built once and shared by every snapshot of that tick: the
 * quantised rows of own entities and ghosts in id order, which entity each row is, and the interest
 * index over them (entry number = row number).
 */
import { EntityTable, quantizeHeading, quantizePosition, quantizeSpeed } from '../core/wire/entity-table.ts'
import type { Entity, EntityId, Game, GhostView, WireFields } from './game/types.ts'
import { wireFields } from './game-faults.ts'
import type { GameFaults } from './game-faults.ts'
import { InterestGrid } from './interest.ts'

/**
 * A read-only copy of an entity owned by a neighbouring partition: players near the border see it,
 * the game does not simulate it. `lastInputSeq` (players only) is the owner's last applied input,
 * which a worker still relaying that player's connection acknowledges in its snapshots.
 */
export interface Ghost extends GhostView {
  fields: WireFields
  lastInputSeq?: number
}

/** The item with id `id` in a list sorted by id (binary search). */
function byId<T extends { id: EntityId }>(sorted: readonly T[], id: EntityId): T | undefined {
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const v = sorted[mid] as T
    if (v.id === id) return v
    if (v.id < id) lo = mid + 1
    else hi = mid - 1
  }
  return undefined
}

export class WorldView<S> {
  readonly rows = new EntityTable(256)
  /** Per row: the entity, or null for a ghost. */
  private readonly entities: (Entity<S> | null)[] = []
  private readonly own: Entity<S>[] = []
  private ghosts: Ghost[] = []
  private pendingGhosts: Ghost[] = []
  private readonly index: InterestGrid
  private readonly fields: WireFields = { kind: 0, flags: 0, hp: 0 }
  private order = new Int32Array(256)
  private marks = new Uint8Array(256)

  constructor(
    private readonly game: Pick<Game<S, unknown>, 'wire'>,
    cellSize: number,
    /** Where a throwing `wire` is reported (that entity's fields are zero for the tick). */
    private readonly faults: GameFaults,
  ) {
    this.index = new InterestGrid({ cellSize })
  }

  /**
   * Replace the ghosts; they appear at the next `rebuild`. Of several ghosts with one id, the first
   * given is kept: a snapshot names an entity once (clients refuse one that names it twice).
   */
  setGhosts(ghosts: readonly Ghost[]): void {
    // The sort is stable: among equal ids, the order given.
    const sorted = [...ghosts].sort((a, b) => a.id - b.id)
    let w = 0
    for (let i = 0; i < sorted.length; i++) {
      const g = sorted[i] as Ghost
      if (w > 0 && (sorted[w - 1] as Ghost).id === g.id) continue
      sorted[w++] = g
    }
    sorted.length = w
    this.pendingGhosts = sorted
  }

  /** The ghosts of the last rebuild, in id order. */
  currentGhosts(): readonly Ghost[] {
    return this.ghosts
  }

  /** A ghost of the last rebuild by id. */
  ghost(id: EntityId): Ghost | undefined {
    return byId(this.ghosts, id)
  }

  /** Whether the last rebuild shows entity `id` (its own, or a ghost of it). */
  shows(id: EntityId): boolean {
    return byId(this.own, id) !== undefined || this.ghost(id) !== undefined
  }

  /** Rebuild rows and index from the current entities (plus ghosts). */
  rebuild(entities: Iterable<Entity<S>>): void {
    const own = this.own
    own.length = 0
    let sorted = true
    let prev = -1
    for (const e of entities) {
      if (e.id < prev) sorted = false
      prev = e.id
      own.push(e)
    }
    // Ids are handed out increasing, so insertion order is id order unless entities arrive from elsewhere.
    if (!sorted) own.sort((a, b) => a.id - b.id)
    this.ghosts = this.pendingGhosts
    const ghosts = this.ghosts
    const list = this.entities
    list.length = 0
    this.rows.clear().reserve(own.length + ghosts.length)
    this.index.begin()
    // Merge by id: snapshots need id order. An own entity shadows a ghost with its id (mid-handoff).
    let i = 0
    let j = 0
    while (i < own.length || j < ghosts.length) {
      const e = own[i]
      const g = ghosts[j]
      if (e !== undefined && (g === undefined || e.id <= g.id)) {
        if (g !== undefined && g.id === e.id) j++
        i++
        wireFields(this.game, e, this.fields, this.faults)
        this.push(e.id, e.x, e.y, e.heading, Math.hypot(e.vx, e.vy), this.fields)
        list.push(e)
      } else if (g !== undefined) {
        j++
        this.push(g.id, g.x, g.y, g.heading, g.speed, g.fields)
        list.push(null)
      }
    }
    this.index.build()
  }

  private push(id: EntityId, x: number, y: number, heading: number, speed: number, f: Readonly<WireFields>): void {
    this.rows.pushValues(
      id,
      quantizePosition(x),
      quantizePosition(y),
      quantizeHeading(heading),
      quantizeSpeed(speed),
      f.kind & 0xff,
      f.flags & 0xff,
      Math.max(0, Math.min(0xffff, Math.round(f.hp) || 0)),
    )
    this.index.add(x, y)
  }

  /** Own entities (not ghosts) within `r` of (x, y) at the last rebuild, into `out` (cleared). */
  nearby(x: number, y: number, r: number, out: Entity<S>[]): void {
    out.length = 0
    const found = this.index.query(x, y, r)
    for (let k = 0; k < found.length; k++) {
      const e = this.entities[found[k] ?? 0]
      if (e != null) out.push(e)
    }
  }

  /** Append the rows within `r` of (x, y) to `table`, in id order. */
  visible(x: number, y: number, r: number, table: EntityTable): void {
    const found = this.index.query(x, y, r)
    table.reserve(table.count + found.length)
    const rows = this.rows
    const n = rows.count
    // Row order is id order. When much of the world is visible, one pass over marked rows beats
    // sorting the row numbers.
    if (found.length * 8 > n) {
      if (this.marks.length < n) this.marks = new Uint8Array(n * 2)
      const marks = this.marks
      for (let k = 0; k < found.length; k++) marks[found[k] ?? 0] = 1
      // Copy runs of consecutive visible rows as blocks: with everyone visible that is one copy.
      let i = 0
      while (i < n) {
        if (marks[i] !== 1) {
          i++
          continue
        }
        const start = i
        while (i < n && marks[i] === 1) marks[i++] = 0
        table.pushRows(rows, start, i)
      }
      return
    }
    if (this.order.length < found.length) this.order = new Int32Array(found.length * 2)
    const order = this.order.subarray(0, found.length)
    order.set(found)
    order.sort()
    for (let k = 0; k < order.length; k++) table.pushRow(rows, order[k] ?? 0)
  }
}
