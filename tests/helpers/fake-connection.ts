/**
 * A fake player connection for the client library's unit tests: the test plays the worker, encoding
 * real snapshots and control frames and reading back what the client sent.
 */
import type { Connection, ConnectionCloseReason } from '../../client/connection.ts'
import { BitWriter } from '../../core/wire/bits.ts'
import { ControlStream } from '../../core/wire/control-stream.ts'
import { encodeControlMessage } from '../../core/wire/control-messages.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import { EntityTable } from '../../core/wire/entity-table.ts'
import type { WireEntity } from '../../core/wire/entity-table.ts'
import { isDecodeError } from '../../core/wire/errors.ts'
import type { InputPacket } from '../../core/wire/input-codec.ts'
import { decodeClientDatagram, encodeControlDatagram } from '../../core/wire/messages.ts'
import { SnapshotEncoder } from '../../core/wire/snapshot-codec.ts'
import { controlMessagesOf } from './control-reader.ts'

export function wire(id: number, x: number, y: number, extra: Partial<WireEntity> = {}): WireEntity {
  return { id, x: x * 16, y: y * 16, heading: 0, speed: 0, kind: 1, flags: 0, hp: 100, ...extra }
}

export class FakeConnection implements Connection {
  readonly id: string
  readonly userData = {}
  rttMs: number | undefined = 1
  open = true
  readonly sent: Uint8Array[] = []
  /** Control messages the client acknowledged (server side of the control stream). */
  readonly control = new ControlStream()
  private readonly messageListeners: Array<(bytes: Uint8Array) => void> = []
  private readonly closeListeners: Array<(reason: ConnectionCloseReason, code: number | undefined) => void> = []
  private readonly encoder = new SnapshotEncoder()

  constructor(
    readonly ticket: string,
    index = 0,
  ) {
    this.id = `fake-${index}`
  }

  /** True once a session listens (after the client's async connect step). */
  get listening(): boolean {
    return this.messageListeners.length > 0
  }

  sendRaw(bytes: Uint8Array): boolean {
    if (!this.open) return false
    this.sent.push(bytes.slice())
    return true
  }

  onMessage(listener: (bytes: Uint8Array) => void): void {
    this.messageListeners.push(listener)
  }

  onClose(listener: (reason: ConnectionCloseReason, code: number | undefined) => void): void {
    this.closeListeners.push(listener)
  }

  close(): void {
    this.drop('closed')
  }

  /** The connection ends (`reason` as the client would see it). */
  drop(reason: ConnectionCloseReason, code?: number): void {
    if (!this.open) return
    this.open = false
    for (const l of this.closeListeners) l(reason, code)
  }

  deliver(bytes: Uint8Array): void {
    for (const l of this.messageListeners) l(bytes)
  }

  /** Sends a control message over the reliable stream, as the worker does. */
  say(message: ControlMessage, nowMs = 0): void {
    this.control.send(encodeControlMessage(message))
    for (let f = this.control.poll(nowMs); f; f = this.control.poll(nowMs)) this.deliver(encodeControlDatagram('server', f))
  }

  join(entityId: number, tick = 10): void {
    this.say({ kind: 'join-accepted', entityId, worldId: 'r1', partition: null, tick, tickRate: 20 })
  }

  /** Sends a full snapshot of `entities` at `tick`. */
  snapshot(tick: number, entities: WireEntity[], ackInputSeq = 0): void {
    const table = new EntityTable()
    for (const e of [...entities].sort((a, b) => a.id - b.id)) table.push(e)
    const w = new BitWriter(1024)
    this.deliver(this.encoder.encode(w, { tick, baseTick: null, ackInputSeq }, table, null).slice())
  }

  /** The INPUT packets the client sent, decoded. */
  inputs(): InputPacket[] {
    const out: InputPacket[] = []
    for (const bytes of this.sent) {
      const d = decodeClientDatagram(bytes)
      if (!isDecodeError(d) && d.type === 'input') out.push(d)
    }
    return out
  }

  /** The control messages the client sent over its reliable stream, in order. */
  controlsFromClient(): ControlMessage[] {
    const frames: Uint8Array[] = []
    for (const bytes of this.sent) {
      const d = decodeClientDatagram(bytes)
      if (!isDecodeError(d) && d.type === 'control') frames.push(d.frame)
    }
    return controlMessagesOf(frames)
  }

  /** Types of every datagram the client sent, in order. */
  sentTypes(): string[] {
    return this.sent.map((b) => {
      const d = decodeClientDatagram(b)
      return isDecodeError(d) ? 'invalid' : d.type
    })
  }
}
