/**
 * First-byte dispatch of raw datagrams, and the tiny fixed messages (ack, ping, pong). Transports
 * call `decodeClientDatagram` / `decodeServerDatagram` and switch on `type`; nothing here throws.
 */
import { ByteReader, ByteWriter } from './bytes.ts'
import { DecodeError } from './errors.ts'
import { decodeInputPacket } from './input-codec.ts'
import type { InputPacket } from './input-codec.ts'
import { Protocol } from './protocol.ts'

export interface Ping {
  nonce: number
  /** Sender's clock in ms, echoed back for round-trip time. */
  clientTimeMs: number
}

export interface Pong extends Ping {
  serverTick: number
}

export type ClientDatagram =
  | ({ type: 'input' } & InputPacket)
  | { type: 'ack'; ackTick: number }
  | { type: 'control'; frame: Uint8Array }
  | ({ type: 'ping' } & Ping)

export type ServerDatagram =
  | { type: 'snapshot'; bytes: Uint8Array }
  | { type: 'control'; frame: Uint8Array }
  | ({ type: 'pong' } & Pong)

export function encodeAck(ackTick: number): Uint8Array {
  return new ByteWriter(8).u8(Protocol.clientOp.ACK).varint(ackTick).toBytes()
}

export function encodePing(ping: Ping): Uint8Array {
  return new ByteWriter(16).u8(Protocol.clientOp.PING).u32(ping.nonce).f64(ping.clientTimeMs).toBytes()
}

export function encodePong(pong: Pong): Uint8Array {
  return new ByteWriter(20).u8(Protocol.serverOp.PONG).u32(pong.nonce).f64(pong.clientTimeMs).u32(pong.serverTick).toBytes()
}

/** Prefix a control stream frame with the control opcode of the sending side. */
export function encodeControlDatagram(side: 'client' | 'server', frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length + 1)
  out[0] = side === 'client' ? Protocol.clientOp.CONTROL : Protocol.serverOp.CONTROL
  out.set(frame, 1)
  return out
}

function tooLarge(bytes: Uint8Array): DecodeError | null {
  if (bytes.length > Protocol.limits.maxDatagramBytes) return new DecodeError('too_large', `${bytes.length} bytes`)
  if (bytes.length === 0) return new DecodeError('truncated', 'empty datagram')
  return null
}

export function decodeClientDatagram(bytes: Uint8Array): ClientDatagram | DecodeError {
  const size = tooLarge(bytes)
  if (size !== null) return size
  const op = bytes[0]
  switch (op) {
    case Protocol.clientOp.INPUT: {
      const p = decodeInputPacket(bytes)
      return p instanceof DecodeError ? p : { type: 'input', ...p }
    }
    case Protocol.clientOp.ACK: {
      const r = new ByteReader(bytes, 1)
      const ackTick = r.varint()
      if (r.failed) return new DecodeError('truncated', 'ack')
      if (r.remaining !== 0) return new DecodeError('trailing_bytes', 'ack')
      return { type: 'ack', ackTick }
    }
    case Protocol.clientOp.CONTROL:
      return { type: 'control', frame: bytes.subarray(1) }
    case Protocol.clientOp.PING: {
      const r = new ByteReader(bytes, 1)
      const nonce = r.u32()
      const clientTimeMs = r.f64()
      if (r.failed) return new DecodeError('truncated', 'ping')
      if (r.remaining !== 0) return new DecodeError('trailing_bytes', 'ping')
      return { type: 'ping', nonce, clientTimeMs }
    }
    default:
      return new DecodeError('bad_opcode', `client opcode ${op ?? -1}`)
  }
}

export function decodeServerDatagram(bytes: Uint8Array): ServerDatagram | DecodeError {
  const size = tooLarge(bytes)
  if (size !== null) return size
  const op = bytes[0]
  switch (op) {
    case Protocol.serverOp.SNAPSHOT:
      // Decoded by SnapshotReceiver, which needs its baselines.
      return { type: 'snapshot', bytes }
    case Protocol.serverOp.CONTROL:
      return { type: 'control', frame: bytes.subarray(1) }
    case Protocol.serverOp.PONG: {
      const r = new ByteReader(bytes, 1)
      const nonce = r.u32()
      const clientTimeMs = r.f64()
      const serverTick = r.u32()
      if (r.failed) return new DecodeError('truncated', 'pong')
      if (r.remaining !== 0) return new DecodeError('trailing_bytes', 'pong')
      return { type: 'pong', nonce, clientTimeMs, serverTick }
    }
    default:
      return new DecodeError('bad_opcode', `server opcode ${op ?? -1}`)
  }
}
