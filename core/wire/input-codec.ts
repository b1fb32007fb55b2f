/**
 * Player inputs. Every INPUT datagram repeats the most recent inputs the server has not yet
 * acknowledged (up to `Protocol.limits.maxInputsPerPacket`), newest first with consecutive sequence
 * numbers, so a lost datagram loses nothing as long as a later one arrives. It also carries the last
 * snapshot tick the client applied: the server's delta baseline.
 *
 * Layout: u8 op, varint ackTick+1 (0: none), varint newestSeq, varint newestTick, u8 count,
 * then count × { i8 moveX, i8 moveY, varint buttons, u8 ticks before newestTick }.
 */
import { ByteReader, ByteWriter } from './bytes.ts'
import { DecodeError } from './errors.ts'
import { Protocol } from './protocol.ts'

/** One input sample. `moveX`/`moveY` are -127..127 (see `quantizeAxis`); `buttons` is a 16-bit set. */
export interface InputRecord {
  /** Sequence number, from 1, +1 per input. */
  seq: number
  /** The server tick the client meant it for (its estimate). */
  tick: number
  moveX: number
  moveY: number
  buttons: number
}

export interface InputPacket {
  /** Last snapshot tick the client applied, or null before the first. */
  ackTick: number | null
  /** Newest first, consecutive sequence numbers. */
  inputs: InputRecord[]
}

export const MAX_AXIS = 127
export const MAX_BUTTONS = 0xffff

/** -1..1 → -127..127 (clamped). */
export function quantizeAxis(v: number): number {
  const q = Math.round(v * MAX_AXIS)
  return q > MAX_AXIS ? MAX_AXIS : q < -MAX_AXIS ? -MAX_AXIS : Number.isNaN(q) ? 0 : q
}

export function dequantizeAxis(q: number): number {
  return q / MAX_AXIS
}

/** Encode an input packet. `inputs` must be newest first with consecutive seqs (as `InputHistory` makes them). */
export function encodeInputPacket(packet: InputPacket, w: ByteWriter = new ByteWriter(64)): Uint8Array {
  const newest = packet.inputs[0]
  w.reset().u8(Protocol.clientOp.INPUT).varint(packet.ackTick === null ? 0 : packet.ackTick + 1)
  w.varint(newest?.seq ?? 0).varint(newest?.tick ?? 0).u8(packet.inputs.length)
  for (const input of packet.inputs) {
    w.i8(input.moveX).i8(input.moveY).varint(input.buttons)
    w.u8(Math.min(255, Math.max(0, (newest?.tick ?? 0) - input.tick)))
  }
  return w.toBytes()
}

export function decodeInputPacket(bytes: Uint8Array): InputPacket | DecodeError {
  const r = new ByteReader(bytes)
  const op = r.u8()
  if (r.failed) return new DecodeError('truncated', 'empty input packet')
  if (op !== Protocol.clientOp.INPUT) return new DecodeError('bad_opcode', `opcode ${op} is not INPUT`)
  const ack = r.varint()
  const newestSeq = r.varint()
  const newestTick = r.varint()
  const count = r.u8()
  if (r.failed) return new DecodeError('truncated', 'input header')
  if (count < 1 || count > Protocol.limits.maxInputsPerPacket) return new DecodeError('out_of_range', `input count ${count}`)
  if (newestSeq < count) return new DecodeError('out_of_range', 'sequence numbers below 1')
  // Each record is at least 4 bytes: a count beyond what is left is refused before allocating.
  if (r.remaining < count * 4) return new DecodeError('truncated', 'input records')
  const inputs: InputRecord[] = []
  for (let k = 0; k < count; k++) {
    const moveX = r.i8()
    const moveY = r.i8()
    const buttons = r.varint()
    const back = r.u8()
    if (r.failed) return new DecodeError('truncated', 'input record')
    if (moveX < -MAX_AXIS || moveY < -MAX_AXIS) return new DecodeError('out_of_range', 'movement axis')
    if (buttons > MAX_BUTTONS) return new DecodeError('out_of_range', 'buttons')
    if (back > newestTick) return new DecodeError('out_of_range', 'input tick before 0')
    inputs.push({ seq: newestSeq - k, tick: newestTick - back, moveX, moveY, buttons })
  }
  if (r.remaining !== 0) return new DecodeError('trailing_bytes', `${r.remaining} bytes after inputs`)
  return { ackTick: ack === 0 ? null : ack - 1, inputs }
}

/**
 * The client's record of inputs not yet acknowledged by the server: assigns sequence numbers and
 * builds packets that repeat the unacknowledged tail.
 */
export class InputHistory {
  private readonly pending: InputRecord[] = []
  private nextSeq = 1

  /** @param redundancy inputs repeated per packet at most (default 4, capped by the protocol limit). */
  constructor(private readonly redundancy = 4) {
    if (redundancy < 1 || redundancy > Protocol.limits.maxInputsPerPacket) throw new RangeError('redundancy out of range')
  }

  /** Record a new input (axes already quantised) and return it with its sequence number. */
  push(tick: number, moveX: number, moveY: number, buttons: number): InputRecord {
    const input: InputRecord = { seq: this.nextSeq++, tick, moveX, moveY, buttons }
    this.pending.push(input)
    // Older than the redundancy window can no longer be resent: keep the list bounded.
    if (this.pending.length > this.redundancy) this.pending.shift()
    return input
  }

  /** The server applied everything up to `seq`: stop repeating those. */
  acknowledge(seq: number): void {
    while (this.pending.length > 0 && (this.pending[0]?.seq ?? Infinity) <= seq) this.pending.shift()
  }

  /** Inputs to send now, newest first (empty when all are acknowledged). */
  packet(ackTick: number | null): InputPacket {
    return { ackTick, inputs: [...this.pending].reverse() }
  }
}
