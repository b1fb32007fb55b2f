import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BitWriter } from '../../core/wire/bits.ts'
import {
  EntityTable,
  MAX_HP,
  MAX_POSITION_Q,
  MAX_SPEED_Q,
  POSITION_SCALE,
  dequantizeHeading,
  dequantizePosition,
  quantizeHeading,
  quantizePosition,
} from '../../core/wire/entity-table.ts'
import type { WireEntity } from '../../core/wire/entity-table.ts'
import { DecodeError } from '../../core/wire/errors.ts'
import { InputHistory, decodeInputPacket, encodeInputPacket } from '../../core/wire/input-codec.ts'
import type { InputRecord } from '../../core/wire/input-codec.ts'
import { decodeClientDatagram, decodeServerDatagram, encodePing, encodePong } from '../../core/wire/messages.ts'
import { SnapshotDecoder, SnapshotEncoder } from '../../core/wire/snapshot-codec.ts'
import type { SnapshotHeader } from '../../core/wire/snapshot-codec.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import { SnapshotReceiver } from '../../core/wire/snapshot-receiver.ts'

const entityFields = fc.record({
  x: fc.integer({ min: -MAX_POSITION_Q, max: MAX_POSITION_Q }),
  y: fc.integer({ min: -MAX_POSITION_Q, max: MAX_POSITION_Q }),
  heading: fc.integer({ min: 0, max: 255 }),
  speed: fc.integer({ min: 0, max: MAX_SPEED_Q }),
  kind: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  hp: fc.integer({ min: 0, max: MAX_HP }),
})

const entityId = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }))

const entityList = fc.uniqueArray(fc.tuple(entityId, entityFields), { selector: ([id]) => id, maxLength: 60 }).map((rows) =>
  rows.map(([id, f]): WireEntity => ({ id, ...f })),
)

/** A next state: some entities removed, some moved a little or changed, some added. */
function evolve(prev: WireEntity[]): fc.Arbitrary<WireEntity[]> {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(3), fc.integer({ min: -40, max: 40 }), fc.integer({ min: -40, max: 40 }), entityFields), {
        minLength: prev.length,
        maxLength: prev.length,
      }),
      entityList,
    )
    .map(([changes, extra]) => {
      const out: WireEntity[] = []
      prev.forEach((e, i) => {
        const [what, dx, dy, f] = changes[i] ?? [0, 0, 0, e]
        if (what === 0) return // removed
        if (what === 1) out.push({ ...e })
        else if (what === 2) {
          const clamp = (v: number): number => Math.max(-MAX_POSITION_Q, Math.min(MAX_POSITION_Q, v))
          out.push({ ...e, x: clamp(e.x + dx), y: clamp(e.y + dy), heading: (e.heading + dx) & 0xff })
        } else out.push({ ...f, id: e.id })
      })
      const ids = new Set(out.map((e) => e.id))
      for (const e of extra) if (!ids.has(e.id)) out.push(e)
      return out
    })
}

const histories = entityList.chain((first) => {
  let arb: fc.Arbitrary<WireEntity[][]> = fc.constant([first])
  for (let k = 0; k < 6; k++) arb = arb.chain((hist) => evolve(hist[hist.length - 1] ?? []).map((next) => [...hist, next]))
  return arb
})

function encode(header: SnapshotHeader, cur: WireEntity[], base: WireEntity[] | null): Uint8Array {
  const w = new BitWriter(16)
  const bytes = new SnapshotEncoder().encode(w, header, EntityTable.fromEntities(cur), base === null ? null : EntityTable.fromEntities(base))
  return bytes.slice()
}

function sorted(list: WireEntity[]): WireEntity[] {
  return [...list].sort((a, b) => a.id - b.id)
}

describe('snapshot codec', () => {
  it('decode(encode(x)) = x for full snapshots', () => {
    fc.assert(
      fc.property(entityList, fc.nat(2 ** 32 - 1), fc.nat(2 ** 32 - 1), (list, tick, seq) => {
        const bytes = encode({ tick, baseTick: null, ackInputSeq: seq }, list, null)
        const out = new SnapshotDecoder().decode(bytes, () => undefined, new EntityTable())
        if (out instanceof DecodeError) throw new Error(out.toString())
        expect(out.tick).toBe(tick)
        expect(out.ackInputSeq).toBe(seq)
        expect(out.baseTick).toBeNull()
        expect(out.table.toEntities()).toEqual(sorted(list))
      }),
      { numRuns: 300 },
    )
  })

  it('a delta applied to its baseline gives the full state', () => {
    fc.assert(
      fc.property(
        entityList.chain((base) => evolve(base).map((cur) => [base, cur] as const)),
        fc.integer({ min: 1, max: 31 }),
        ([base, cur], gap) => {
          const tick = 1000
          const bytes = encode({ tick, baseTick: tick - gap, ackInputSeq: 7 }, cur, base)
          const baseTable = EntityTable.fromEntities(base)
          const out = new SnapshotDecoder().decode(bytes, (t) => (t === tick - gap ? baseTable : undefined), new EntityTable())
          if (out instanceof DecodeError) throw new Error(out.toString())
          expect(out.baseTick).toBe(tick - gap)
          expect(out.table.toEntities()).toEqual(sorted(cur))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('deltas applied in order (some lost, baselines = last acked) give the full state, with or without the changes reported', () => {
    fc.assert(
      fc.property(histories, fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }), (states, delivered) => {
        const receiver = new SnapshotReceiver()
        const quiet = new SnapshotReceiver({ changes: false })
        const sent = new Map<number, WireEntity[]>()
        let acked: number | null = null
        const view = new Map<number, WireEntity>()
        states.forEach((state, k) => {
          const tick = 10 + k
          const bytes = encode({ tick, baseTick: acked, ackInputSeq: k }, state, acked === null ? null : (sent.get(acked) ?? null))
          sent.set(tick, state)
          if (!(delivered[k] ?? true)) return
          const res = receiver.receive(bytes)
          if (res instanceof DecodeError) throw new Error(res.toString())
          if (res.kind !== 'applied') throw new Error('unexpected stale')
          // Events turn the previous view into the new one.
          for (const id of res.removed) view.delete(id)
          for (const e of [...res.added, ...res.updated]) view.set(e.id, e)
          expect(sorted([...view.values()])).toEqual(sorted(state))
          expect(receiver.state.toEntities()).toEqual(sorted(state))
          // The same state, nothing reported.
          const q = quiet.receive(bytes)
          expect(q).toEqual({ kind: 'applied', tick, ackInputSeq: k, added: [], updated: [], removed: [] })
          expect(quiet.state.toEntities()).toEqual(sorted(state))
          for (const e of state) expect(quiet.entity(e.id)).toEqual(receiver.entity(e.id))
          acked = receiver.latestTick
        })
      }),
      { numRuns: 150 },
    )
  })

  it('drops stale and refuses deltas on unknown baselines', () => {
    const receiver = new SnapshotReceiver()
    const a: WireEntity[] = [{ id: 1, x: 0, y: 0, heading: 0, speed: 0, kind: 1, flags: 0, hp: 100 }]
    expect(receiver.receive(encode({ tick: 5, baseTick: null, ackInputSeq: 0 }, a, null))).toMatchObject({ kind: 'applied' })
    expect(receiver.receive(encode({ tick: 4, baseTick: null, ackInputSeq: 0 }, a, null))).toEqual({ kind: 'stale', tick: 4 })
    const res = receiver.receive(encode({ tick: 9, baseTick: 3, ackInputSeq: 0 }, a, a))
    expect(res).toBeInstanceOf(DecodeError)
    expect((res as DecodeError).code).toBe('unknown_baseline')
    expect(receiver.latestTick).toBe(5)
    // A garbage snapshot far ahead must not evict the baseline in its ring slot.
    const bad = encode({ tick: 5 + 32, baseTick: null, ackInputSeq: 0 }, a, null)
    expect(receiver.receive(bad.subarray(0, bad.length - 1))).toBeInstanceOf(DecodeError)
    expect(receiver.receive(encode({ tick: 6, baseTick: 5, ackInputSeq: 0 }, a, a))).toMatchObject({ kind: 'applied', tick: 6 })
  })

  it('quantisation is within half a unit step', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -20, max: 20, noNaN: true }), (v, a) => {
        expect(Math.abs(dequantizePosition(quantizePosition(v)) - v)).toBeLessThanOrEqual(0.5 / POSITION_SCALE + 1e-9)
        const back = dequantizeHeading(quantizeHeading(a))
        const d = back - a
        const diff = Math.abs(d - 2 * Math.PI * Math.round(d / (2 * Math.PI)))
        expect(diff).toBeLessThanOrEqual(Math.PI / 256 + 1e-9)
      }),
    )
  })

  it('random bytes are rejected with DecodeError or decoded validly, never thrown', () => {
    const base = EntityTable.fromEntities([{ id: 3, x: 5, y: 5, heading: 1, speed: 2, kind: 1, flags: 0, hp: 9 }])
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withOp) => {
        const input = withOp && bytes.length > 0 ? Uint8Array.of(0x81, ...bytes) : bytes
        const out = new SnapshotDecoder().decode(input, () => base, new EntityTable())
        if (!(out instanceof DecodeError)) expect(out.table.count).toBeLessThanOrEqual(input.length * 8)
        const receiver = new SnapshotReceiver()
        receiver.receive(input)
      }),
      { numRuns: 2000 },
    )
  })

  it('every truncation of a valid snapshot is a DecodeError; bit flips never throw', () => {
    fc.assert(
      fc.property(
        entityList.chain((base) => evolve(base).map((cur) => [base, cur] as const)),
        fc.nat(),
        ([base, cur], flip) => {
          const bytes = encode({ tick: 50, baseTick: 48, ackInputSeq: 3 }, cur, base)
          const baseTable = EntityTable.fromEntities(base)
          const dec = new SnapshotDecoder()
          for (let n = 0; n < bytes.length; n++) {
            const out = dec.decode(bytes.subarray(0, n), () => baseTable, new EntityTable())
            expect(out).toBeInstanceOf(DecodeError)
          }
          const flipped = bytes.slice()
          const bit = flip % (bytes.length * 8)
          flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
          dec.decode(flipped, () => baseTable, new EntityTable())
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('input codec', () => {
  const inputArb = fc.record({
    seq: fc.integer({ min: 20, max: 2 ** 31 }),
    tick: fc.integer({ min: 300, max: 2 ** 31 }),
    count: fc.integer({ min: 1, max: 16 }),
    moves: fc.array(fc.tuple(fc.integer({ min: -127, max: 127 }), fc.integer({ min: -127, max: 127 }), fc.integer({ min: 0, max: 0xffff }), fc.nat(255)), {
      minLength: 16,
      maxLength: 16,
    }),
    ack: fc.option(fc.nat(2 ** 31)),
  })

  it('decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(inputArb, ({ seq, tick, count, moves, ack }) => {
        const inputs: InputRecord[] = []
        for (let k = 0; k < count; k++) {
          const [moveX, moveY, buttons, back] = moves[k] ?? [0, 0, 0, 0]
          inputs.push({ seq: seq - k, tick: tick - back, moveX, moveY, buttons })
        }
        inputs[0] = { ...(inputs[0] as InputRecord), tick }
        const bytes = encodeInputPacket({ ackTick: ack, inputs })
        expect(decodeInputPacket(bytes)).toEqual({ ackTick: ack, inputs })
        expect(decodeClientDatagram(bytes)).toEqual({ type: 'input', ackTick: ack, inputs })
      }),
    )
  })

  it('InputHistory repeats unacknowledged inputs, newest first', () => {
    const h = new InputHistory(3)
    for (let t = 0; t < 5; t++) h.push(t, t, -t, 0)
    expect(h.packet(null).inputs.map((i) => i.seq)).toEqual([5, 4, 3])
    h.acknowledge(4)
    expect(h.packet(2).inputs.map((i) => i.seq)).toEqual([5])
  })

  it('random and truncated datagrams never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83), (bytes, op) => {
        for (const b of [bytes, Uint8Array.of(op, ...bytes)]) {
          decodeClientDatagram(b)
          decodeServerDatagram(b)
        }
      }),
      { numRuns: 2000 },
    )
    const ping = encodePing({ nonce: 7, clientTimeMs: 12.5 })
    expect(decodeClientDatagram(ping)).toEqual({ type: 'ping', nonce: 7, clientTimeMs: 12.5 })
    const pong = encodePong({ nonce: 7, clientTimeMs: 12.5, serverTick: 99 })
    expect(decodeServerDatagram(pong)).toEqual({ type: 'pong', nonce: 7, clientTimeMs: 12.5, serverTick: 99 })
    for (let n = 0; n < pong.length; n++) expect(decodeServerDatagram(pong.subarray(0, n))).toBeInstanceOf(DecodeError)
  })
})

describe('protocol table', () => {
  it('keeps opcodes unique, split by direction and clear of the transport range', () => {
    const client = Object.values(Protocol.clientOp)
    const server = Object.values(Protocol.serverOp)
    expect(new Set([...client, ...server]).size).toBe(client.length + server.length)
    expect(client.every((op) => op > 0 && op < 0x80)).toBe(true)
    expect(server.every((op) => op >= 0x80 && op < Protocol.transportReservedMin)).toBe(true)
    const errors = Object.values(Protocol.errorCode)
    expect(new Set(errors).size).toBe(errors.length)
    const closes = Object.values(Protocol.closeCode)
    expect(new Set(closes).size).toBe(closes.length)
  })
})
