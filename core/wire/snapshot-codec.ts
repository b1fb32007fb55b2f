/**
 * Snapshot codec: the entities in one client's area of interest at one tick, delta-encoded against
 * a baseline the client acknowledged (or in full). See docs/wire-format.md for the layout.
 *
 * Updates name baseline rows by index gap (1 bit when every entity changed), so ids are never
 * repeated for known entities; positions travel as small signed deltas; added entities carry full
 * values. Everything is Exp-Golomb bit-packed: ~3 bytes per walking entity.
 */
import { BitReader } from './bits.ts'
import type { BitWriter } from './bits.ts'
import {
  Col,
  EntityTable,
  MAX_ENTITY_ID,
  MAX_HP,
  MAX_POSITION_Q,
  MAX_SNAPSHOT_ENTITIES,
  MAX_SPEED_Q,
  STRIDE,
} from './entity-table.ts'
import { DecodeError } from './errors.ts'
import { Protocol } from './protocol.ts'

export interface SnapshotHeader {
  /** Server tick the snapshot shows; also its id, which the client acknowledges. */
  tick: number
  /** Tick of the baseline this delta applies to, or null for a full snapshot. */
  baseTick: number | null
  /** Highest input sequence number the server has applied for this client (0: none yet). */
  ackInputSeq: number
}

export interface DecodedSnapshot extends SnapshotHeader {
  /** The complete entity set at `tick` (baseline with the delta applied). */
  table: EntityTable
}

// Column offsets as plain constants: the hot loops read them on every field.
const CX = Col.x
const CY = Col.y
const CH = Col.heading
const CS = Col.speed
const CK = Col.kind
const CF = Col.flags
const CHP = Col.hp

/** Field bits of an update record. */
const M_POS = 1
const M_HEADING = 2
const M_SPEED = 4
const M_KIND = 8
const M_FLAGS = 16
const M_HP = 32
const M_ALL = 63

/** Exp-Golomb orders, tuned for walking entities at 20 Hz. */
const K_COUNT = 3
const K_DPOS = 2
const K_DHEADING = 1
const K_POS = 12
const K_SPEED = 4
const K_HP = 6
const K_BASE = 2

function changeMask(cur: Int32Array, co: number, base: Int32Array, bo: number): number {
  let m = 0
  if (cur[co + CX] !== base[bo + CX] || cur[co + CY] !== base[bo + CY]) m |= M_POS
  if (cur[co + CH] !== base[bo + CH]) m |= M_HEADING
  if (cur[co + CS] !== base[bo + CS]) m |= M_SPEED
  if (cur[co + CK] !== base[bo + CK]) m |= M_KIND
  if (cur[co + CF] !== base[bo + CF]) m |= M_FLAGS
  if (cur[co + CHP] !== base[bo + CHP]) m |= M_HP
  return m
}

/** Shortest signed difference between two headings on the 256-step circle. */
function headingDelta(to: number, from: number): number {
  return (((to - from + 128) & 0xff) - 128)
}

/** Encodes snapshots; keeps scratch arrays between calls so steady-state encoding allocates nothing. */
export class SnapshotEncoder {
  /** Triples (baseline row, current row or -1 for removed, change mask). */
  private updates = new Int32Array(384)
  private adds = new Int32Array(128)

  /**
   * Append one snapshot to `w` and return a view of its bytes (valid until `w.reset()`).
   * `current` and `baseline` must be sorted by id; `baseline` null (or `header.baseTick` null) means full.
   */
  encode(w: BitWriter, header: SnapshotHeader, current: EntityTable, baseline: EntityTable | null): Uint8Array {
    const base = header.baseTick === null || baseline === null || header.baseTick >= header.tick ? null : baseline
    const start = w.byteLength
    w.bits(Protocol.serverOp.SNAPSHOT, 8)
    w.bits(header.tick >>> 16, 16)
    w.bits(header.tick & 0xffff, 16)
    w.ue(base === null ? 0 : header.tick - (header.baseTick ?? 0), K_BASE)
    w.bits(header.ackInputSeq >>> 16, 16)
    w.bits(header.ackInputSeq & 0xffff, 16)

    // Pass 1: merge-walk baseline and current (both id-sorted) into update and add lists.
    let nUpd = 0
    let nAdd = 0
    if (this.updates.length < 3 * (base?.count ?? 0)) this.updates = new Int32Array(6 * (base?.count ?? 0))
    if (this.adds.length < current.count) this.adds = new Int32Array(current.count * 2)
    const upd = this.updates
    const add = this.adds
    const cd = current.data
    let i = 0
    let j = 0
    if (base !== null) {
      const bd = base.data
      while (i < base.count && j < current.count) {
        const bid = bd[i * STRIDE] ?? 0
        const cid = cd[j * STRIDE] ?? 0
        if (bid < cid) {
          upd[nUpd++] = i++
          upd[nUpd++] = -1
          upd[nUpd++] = 0
        } else if (bid > cid) {
          add[nAdd++] = j++
        } else {
          const m = changeMask(cd, j * STRIDE, bd, i * STRIDE)
          if (m !== 0) {
            upd[nUpd++] = i
            upd[nUpd++] = j
            upd[nUpd++] = m
          }
          i++
          j++
        }
      }
      while (i < base.count) {
        upd[nUpd++] = i++
        upd[nUpd++] = -1
        upd[nUpd++] = 0
      }
    }
    while (j < current.count) add[nAdd++] = j++

    // Pass 2: write.
    w.ue(nUpd / 3, K_COUNT)
    if (base !== null) {
      const bd = base.data
      let prev = -1
      for (let u = 0; u < nUpd; u += 3) {
        const bi = upd[u] ?? 0
        const cj = upd[u + 1] ?? -1
        const skip = bi - prev - 1
        prev = bi
        const m = upd[u + 2] ?? M_ALL
        const co = cj * STRIDE
        const bo = bi * STRIDE
        if (skip === 0 && (m === M_POS || m === (M_POS | M_HEADING)) && cj >= 0) {
          // The common record (next row moved, maybe turned) in one or two writes instead of six:
          // skip '1', kept '0', mask '1' or '01', then se2 dx and se2 dy concatenated.
          const dx = (cd[co + CX] ?? 0) - (bd[bo + CX] ?? 0)
          const dy = (cd[co + CY] ?? 0) - (bd[bo + CY] ?? 0)
          const wx = (dx >= 0 ? dx * 2 : -dx * 2 - 1) + (1 << K_DPOS)
          const wy = (dy >= 0 ? dy * 2 : -dy * 2 - 1) + (1 << K_DPOS)
          const lx = 2 * (32 - Math.clz32(wx)) - 1 - K_DPOS
          const ly = 2 * (32 - Math.clz32(wy)) - 1 - K_DPOS
          const prefix = m === M_POS ? 0b101 : 0b1001
          const plen = m === M_POS ? 3 : 4
          if (plen + lx + ly <= 24) {
            w.bits((((prefix << lx) | wx) << ly) | wy, plen + lx + ly)
          } else {
            w.bits(prefix, plen)
            w.se(dx, K_DPOS)
            w.se(dy, K_DPOS)
          }
          if (m !== M_POS) w.se(headingDelta(cd[co + CH] ?? 0, bd[bo + CH] ?? 0), K_DHEADING)
          continue
        }
        w.ue(skip, 0)
        if (cj < 0) {
          w.bits(1, 1)
          continue
        }
        w.bits(0, 1)
        if (m === M_POS) w.bits(1, 1)
        else if (m === (M_POS | M_HEADING)) w.bits(1, 2)
        else {
          w.bits(0, 2)
          w.bits(m, 6)
        }
        if (m & M_POS) {
          w.se((cd[co + CX] ?? 0) - (bd[bo + CX] ?? 0), K_DPOS)
          w.se((cd[co + CY] ?? 0) - (bd[bo + CY] ?? 0), K_DPOS)
        }
        if (m & M_HEADING) w.se(headingDelta(cd[co + CH] ?? 0, bd[bo + CH] ?? 0), K_DHEADING)
        if (m & M_SPEED) w.ue(cd[co + CS] ?? 0, K_SPEED)
        if (m & M_KIND) w.bits(cd[co + CK] ?? 0, 8)
        if (m & M_FLAGS) w.bits(cd[co + CF] ?? 0, 8)
        if (m & M_HP) w.ue(cd[co + CHP] ?? 0, K_HP)
      }
    }
    w.ue(nAdd, K_COUNT)
    let prevId = -1
    for (let a = 0; a < nAdd; a++) {
      const co = (add[a] ?? 0) * STRIDE
      const id = cd[co] ?? 0
      w.ue(id - prevId - 1, 0)
      prevId = id
      w.se(cd[co + CX] ?? 0, K_POS)
      w.se(cd[co + CY] ?? 0, K_POS)
      w.bits(cd[co + CH] ?? 0, 8)
      w.ue(cd[co + CS] ?? 0, K_SPEED)
      w.bits(cd[co + CK] ?? 0, 8)
      w.bits(cd[co + CF] ?? 0, 8)
      w.ue(cd[co + CHP] ?? 0, K_HP)
    }
    return w.finish(start)
  }
}

/** Reads just the header: enough to drop stale snapshots or find the baseline before decoding. */
export function readSnapshotHeader(bytes: Uint8Array): SnapshotHeader | DecodeError {
  const r = new BitReader(bytes)
  return readHeader(r)
}

function readHeader(r: BitReader): SnapshotHeader | DecodeError {
  const op = r.bits(8)
  if (r.failed) return new DecodeError('truncated', 'empty snapshot')
  if (op !== Protocol.serverOp.SNAPSHOT) return new DecodeError('bad_opcode', `opcode ${op} is not SNAPSHOT`)
  const tick = r.bits(16) * 65536 + r.bits(16)
  const baseDelta = r.ue(K_BASE)
  const ackInputSeq = r.bits(16) * 65536 + r.bits(16)
  if (r.failed) return new DecodeError('truncated', 'snapshot header')
  if (baseDelta > tick) return new DecodeError('out_of_range', 'baseline before tick 0')
  return { tick, baseTick: baseDelta === 0 ? null : tick - baseDelta, ackInputSeq }
}

/**
 * Decodes snapshots. Holds a scratch table for added entities; `out` tables are supplied by the
 * caller (the receiver's ring) so nothing is allocated per snapshot once warm.
 */
export class SnapshotDecoder {
  private readonly added = new EntityTable(64)
  private readonly kept = new EntityTable(64)

  /**
   * Decode `bytes` into `out`, looking the baseline up by tick. Never throws: malformed, truncated
   * or out-of-range input, or a missing baseline, gives a `DecodeError` (and `out` is then garbage).
   */
  decode(
    bytes: Uint8Array,
    baseline: (tick: number) => EntityTable | undefined,
    out: EntityTable,
  ): DecodedSnapshot | DecodeError {
    const r = new BitReader(bytes)
    const header = readHeader(r)
    if (header instanceof DecodeError) return header
    let base: EntityTable | undefined
    if (header.baseTick !== null) {
      base = baseline(header.baseTick)
      if (base === undefined) return new DecodeError('unknown_baseline', `no baseline for tick ${header.baseTick}`)
      if (base === out) return new DecodeError('invalid', 'output table is the baseline')
    }
    const kept = this.kept.clear()
    const nUpd = r.ue(K_COUNT)
    if (r.failed) return new DecodeError('truncated', 'update count')
    if (nUpd > (base?.count ?? 0)) return new DecodeError('out_of_range', `${nUpd} updates for a baseline of ${base?.count ?? 0}`)
    if (base !== undefined) {
      kept.reserve(base.count)
      const bd = base.data
      let next = 0
      for (let u = 0; u < nUpd; u++) {
        const skip = r.ue(0)
        const bi = next + skip
        if (r.failed) return new DecodeError('truncated', 'update record')
        if (bi >= base.count) return new DecodeError('out_of_range', 'update index beyond baseline')
        for (; next < bi; next++) kept.pushRow(base, next)
        next = bi + 1
        if (r.bits(1) === 1) continue
        // Mask codes: '1' position only, '01' position and heading, '00' + 6 bits anything else.
        let m = M_POS
        if (r.bits(1) === 0) {
          const second = r.bits(1)
          m = second === 1 ? M_POS | M_HEADING : r.bits(6)
        }
        if (r.failed) return new DecodeError('truncated', 'update mask')
        if (m === 0 || m > M_ALL) return new DecodeError('invalid', 'empty update mask')
        kept.pushRow(base, bi)
        const d = kept.data
        const o = (kept.count - 1) * STRIDE
        const bo = bi * STRIDE
        if (m & M_POS) {
          const x = (bd[bo + CX] ?? 0) + r.se(K_DPOS)
          const y = (bd[bo + CY] ?? 0) + r.se(K_DPOS)
          if (Math.abs(x) > MAX_POSITION_Q || Math.abs(y) > MAX_POSITION_Q) return new DecodeError('out_of_range', 'position')
          d[o + CX] = x
          d[o + CY] = y
        }
        if (m & M_HEADING) d[o + CH] = ((bd[bo + CH] ?? 0) + r.se(K_DHEADING)) & 0xff
        if (m & M_SPEED) {
          const s = r.ue(K_SPEED)
          if (s > MAX_SPEED_Q) return new DecodeError('out_of_range', 'speed')
          d[o + CS] = s
        }
        if (m & M_KIND) d[o + CK] = r.bits(8)
        if (m & M_FLAGS) d[o + CF] = r.bits(8)
        if (m & M_HP) {
          const hp = r.ue(K_HP)
          if (hp > MAX_HP) return new DecodeError('out_of_range', 'hp')
          d[o + CHP] = hp
        }
        if (r.failed) return new DecodeError('truncated', 'update fields')
      }
      for (; next < base.count; next++) kept.pushRow(base, next)
    }

    const nAdd = r.ue(K_COUNT)
    if (r.failed) return new DecodeError('truncated', 'add count')
    // Every add record takes well over 8 bits: a count beyond that is a lie, refused before allocating.
    if (nAdd > r.remainingBits / 8 || kept.count + nAdd > MAX_SNAPSHOT_ENTITIES) {
      return new DecodeError('too_large', `${nAdd} added entities`)
    }
    const added = this.added.clear()
    added.reserve(nAdd)
    let prevId = -1
    for (let a = 0; a < nAdd; a++) {
      const id = prevId + 1 + r.ue(0)
      const x = r.se(K_POS)
      const y = r.se(K_POS)
      const heading = r.bits(8)
      const speed = r.ue(K_SPEED)
      const kind = r.bits(8)
      const flags = r.bits(8)
      const hp = r.ue(K_HP)
      if (r.failed) return new DecodeError('truncated', 'add record')
      if (id > MAX_ENTITY_ID || Math.abs(x) > MAX_POSITION_Q || Math.abs(y) > MAX_POSITION_Q || speed > MAX_SPEED_Q || hp > MAX_HP) {
        return new DecodeError('out_of_range', `added entity ${id}`)
      }
      prevId = id
      added.push({ id, x, y, heading, speed, kind, flags, hp })
    }
    if (r.remainingBits >= 8) return new DecodeError('trailing_bytes', `${r.remainingBits >> 3} bytes after snapshot`)

    // Merge kept (from the baseline) and added, both id-sorted, into `out`.
    out.clear()
    out.reserve(kept.count + added.count)
    let i = 0
    let j = 0
    while (i < kept.count && j < added.count) {
      const ki = kept.id(i)
      const aj = added.id(j)
      if (ki === aj) return new DecodeError('invalid', `entity ${aj} added but already known`)
      if (ki < aj) out.pushRow(kept, i++)
      else out.pushRow(added, j++)
    }
    while (i < kept.count) out.pushRow(kept, i++)
    while (j < added.count) out.pushRow(added, j++)
    return { ...header, table: out }
  }
}
