/**
 * Entities as they travel on the wire: quantised integers, kept in flat `Int32Array` rows sorted by
 * id so that snapshot encoding, decoding and diffing are merge walks with no per-entity allocation.
 *
 * Units: positions in 1/16 world unit, heading in 1/256 turn, speed in 1/16 world unit per second.
 */

/** Column offsets inside a row. */
export const Col = { id: 0, x: 1, y: 2, heading: 3, speed: 4, kind: 5, flags: 6, hp: 7 } as const
/** Int32 slots per entity row. */
export const STRIDE = 8

/** Sub-units per world unit for positions and speeds. */
export const POSITION_SCALE = 16
/** Largest |x|, |y| in position units (so deltas stay within the codec's 2^30 range). */
export const MAX_POSITION_Q = 2 ** 27
export const MAX_ENTITY_ID = 2 ** 30 - 1
export const MAX_SPEED_Q = 0xffff
export const MAX_HP = 0xffff
/** Most entities one snapshot may carry; decoders refuse more. */
export const MAX_SNAPSHOT_ENTITIES = 16_384

/** One entity, quantised. All fields are integers in the ranges above; `kind` and `flags` are 0..255. */
export interface WireEntity {
  id: number
  x: number
  y: number
  heading: number
  speed: number
  kind: number
  flags: number
  hp: number
}

export function quantizePosition(v: number): number {
  const q = Math.round(v * POSITION_SCALE)
  return q > MAX_POSITION_Q ? MAX_POSITION_Q : q < -MAX_POSITION_Q ? -MAX_POSITION_Q : q | 0
}

export function dequantizePosition(q: number): number {
  return q / POSITION_SCALE
}

/** Radians → 0..255 (a full turn wraps). */
export function quantizeHeading(radians: number): number {
  return Math.round((radians / (2 * Math.PI)) * 256) & 0xff
}

/** 0..255 → radians in [0, 2π). */
export function dequantizeHeading(q: number): number {
  return (q / 256) * 2 * Math.PI
}

export function quantizeSpeed(v: number): number {
  const q = Math.round(v * POSITION_SCALE)
  // Written so that NaN lands on 0.
  return q >= 0 ? (q > MAX_SPEED_Q ? MAX_SPEED_Q : q) : 0
}

export function dequantizeSpeed(q: number): number {
  return q / POSITION_SCALE
}

/** An entity in world units, for display: what a client renders. */
export interface EntityView {
  id: number
  x: number
  y: number
  /** Radians in [0, 2π). */
  heading: number
  /** World units per second. */
  speed: number
  kind: number
  flags: number
  hp: number
}

export function dequantizeEntity(e: WireEntity): EntityView {
  return {
    id: e.id,
    x: dequantizePosition(e.x),
    y: dequantizePosition(e.y),
    heading: dequantizeHeading(e.heading),
    speed: dequantizeSpeed(e.speed),
    kind: e.kind,
    flags: e.flags,
    hp: e.hp,
  }
}

/** A growable, id-sorted table of quantised entities. */
export class EntityTable {
  data: Int32Array
  count = 0

  /** @param capacity initial rows (default 64); grows by doubling. */
  constructor(capacity = 64) {
    this.data = new Int32Array(Math.max(1, capacity) * STRIDE)
  }

  clear(): this {
    this.count = 0
    return this
  }

  /** Make room for `rows` rows in total, keeping the current ones. */
  reserve(rows: number): void {
    if (rows * STRIDE <= this.data.length) return
    let size = this.data.length * 2
    while (size < rows * STRIDE) size *= 2
    const next = new Int32Array(size)
    next.set(this.data.subarray(0, this.count * STRIDE))
    this.data = next
  }

  /** Append a row; the caller keeps ids ascending. */
  push(e: WireEntity): void {
    this.pushValues(e.id, e.x, e.y, e.heading, e.speed, e.kind, e.flags, e.hp)
  }

  /** Append a row from values (no object needed); the caller keeps ids ascending. */
  pushValues(id: number, x: number, y: number, heading: number, speed: number, kind: number, flags: number, hp: number): void {
    if ((this.count + 1) * STRIDE > this.data.length) this.reserve(this.count + 1)
    const o = this.count * STRIDE
    const d = this.data
    d[o] = id
    d[o + 1] = x
    d[o + 2] = y
    d[o + 3] = heading
    d[o + 4] = speed
    d[o + 5] = kind
    d[o + 6] = flags
    d[o + 7] = hp
    this.count++
  }

  /** Append row `i` of `src`. */
  pushRow(src: EntityTable, i: number): void {
    if ((this.count + 1) * STRIDE > this.data.length) this.reserve(this.count + 1)
    // An element loop: `set(subarray(…))` allocates a view per row, which dominated encoding.
    const d = this.data
    const s = src.data
    const o = this.count * STRIDE
    const so = i * STRIDE
    for (let k = 0; k < STRIDE; k++) d[o + k] = s[so + k] ?? 0
    this.count++
  }

  /** Append rows `from` … `to − 1` of `src` (one block copy). */
  pushRows(src: EntityTable, from: number, to: number): void {
    const n = to - from
    if (n <= 0) return
    this.reserve(this.count + n)
    this.data.set(src.data.subarray(from * STRIDE, to * STRIDE), this.count * STRIDE)
    this.count += n
  }

  copyFrom(src: EntityTable): void {
    this.reserve(src.count)
    this.data.set(src.data.subarray(0, src.count * STRIDE))
    this.count = src.count
  }

  id(i: number): number {
    return this.data[i * STRIDE] ?? -1
  }

  get(i: number): WireEntity {
    const d = this.data
    const o = i * STRIDE
    return {
      id: d[o] ?? 0,
      x: d[o + 1] ?? 0,
      y: d[o + 2] ?? 0,
      heading: d[o + 3] ?? 0,
      speed: d[o + 4] ?? 0,
      kind: d[o + 5] ?? 0,
      flags: d[o + 6] ?? 0,
      hp: d[o + 7] ?? 0,
    }
  }

  /** Row index of `id` (binary search), or -1. */
  indexOf(id: number): number {
    let lo = 0
    let hi = this.count - 1
    const d = this.data
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = d[mid * STRIDE] ?? 0
      if (v === id) return mid
      if (v < id) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  /** True when rows `i` of this table and `j` of `other` hold the same values. */
  rowEquals(i: number, other: EntityTable, j: number): boolean {
    const a = this.data
    const b = other.data
    const oa = i * STRIDE
    const ob = j * STRIDE
    for (let k = 0; k < STRIDE; k++) if (a[oa + k] !== b[ob + k]) return false
    return true
  }

  toEntities(): WireEntity[] {
    const out: WireEntity[] = []
    for (let i = 0; i < this.count; i++) out.push(this.get(i))
    return out
  }

  /** A table from entities in any order (sorted here); duplicate ids keep the last. */
  static fromEntities(list: readonly WireEntity[]): EntityTable {
    const sorted = [...list].sort((a, b) => a.id - b.id)
    const t = new EntityTable(sorted.length)
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i]
      if (e === undefined) continue
      if (t.count > 0 && t.id(t.count - 1) === e.id) t.count--
      t.push(e)
    }
    return t
  }
}

/** True when `e` fits the wire ranges (what an encoder may be given). */
export function isValidWireEntity(e: WireEntity): boolean {
  const int = Number.isInteger
  return (
    int(e.id) && e.id >= 0 && e.id <= MAX_ENTITY_ID &&
    int(e.x) && Math.abs(e.x) <= MAX_POSITION_Q &&
    int(e.y) && Math.abs(e.y) <= MAX_POSITION_Q &&
    int(e.heading) && e.heading >= 0 && e.heading <= 255 &&
    int(e.speed) && e.speed >= 0 && e.speed <= MAX_SPEED_Q &&
    int(e.kind) && e.kind >= 0 && e.kind <= 255 &&
    int(e.flags) && e.flags >= 0 && e.flags <= 255 &&
    int(e.hp) && e.hp >= 0 && e.hp <= MAX_HP
  )
}
