/**
 * A reliable, ordered message stream over an unreliable, unordered channel. Pure: the caller feeds
 * received frames in, polls frames out, and passes the time; there are no timers here.
 *
 * Each side runs one `ControlStream`. Messages get sequence numbers from 1; frames carry a
 * cumulative ack (highest seq delivered in order), 32 bits of selective ack above it, and any
 * messages due for (re)sending. geckos.io's own "reliable" mode only repeats a message blindly and
 * unordered, which is why this exists.
 *
 * Frame layout: varint ack, u32 sack bits (bit i: seq ack+2+i held), varint count,
 * count × { varint seq, varint length, bytes }.
 */
import { ByteReader, ByteWriter } from './bytes.ts'
import { DecodeError } from './errors.ts'
import { Protocol } from './protocol.ts'

export interface ControlStreamOptions {
  /** Resend an unacknowledged message after this long, doubling per resend up to 8×. Default 200 ms. */
  resendAfterMs?: number
  /** Messages in flight (sent, unacknowledged) at most; later ones wait. Default 32. */
  window?: number
  /** Messages waiting or in flight at most; `send` refuses beyond. Default 256. */
  maxBacklog?: number
  /** Out-of-order messages buffered at most (ahead of the next expected). Default 64. */
  maxOutOfOrder?: number
  /** Largest message payload. Default `Protocol.limits.maxControlMessageBytes`. */
  maxMessageBytes?: number
  /** Frames are filled up to about this many bytes (one message may exceed it alone). Default 1150. */
  maxFrameBytes?: number
}

interface Outgoing {
  seq: number
  payload: Uint8Array
  /** When last sent; -Infinity before the first send. */
  sentAt: number
  sends: number
}

export interface ControlStreamStats {
  sent: number
  resent: number
  delivered: number
  duplicates: number
  /** Messages dropped because they were too far ahead of the next expected one. */
  droppedAhead: number
  inFlight: number
  backlog: number
}

const SACK_BITS = 32

export class ControlStream {
  private readonly resendAfterMs: number
  private readonly window: number
  private readonly maxBacklog: number
  private readonly maxOutOfOrder: number
  private readonly maxMessageBytes: number
  private readonly maxFrameBytes: number

  /** Unacknowledged outgoing messages in seq order (in flight first, then waiting). */
  private readonly outgoing: Outgoing[] = []
  private nextSendSeq = 1
  /** Highest seq delivered in order to the application. */
  private delivered = 0
  private readonly ahead = new Map<number, Uint8Array>()
  private ackOwed = false
  private readonly writer = new ByteWriter(1280)
  private readonly counters = { sent: 0, resent: 0, delivered: 0, duplicates: 0, droppedAhead: 0 }

  constructor(options: ControlStreamOptions = {}) {
    this.resendAfterMs = options.resendAfterMs ?? 200
    this.window = options.window ?? 32
    this.maxBacklog = options.maxBacklog ?? 256
    this.maxOutOfOrder = Math.min(options.maxOutOfOrder ?? 64, 1024)
    this.maxMessageBytes = options.maxMessageBytes ?? Protocol.limits.maxControlMessageBytes
    this.maxFrameBytes = options.maxFrameBytes ?? 1150
  }

  /** Queue a message. False (and nothing queued) when it is too large or the backlog is full. */
  send(payload: Uint8Array): boolean {
    if (payload.length > this.maxMessageBytes || this.outgoing.length >= this.maxBacklog) return false
    this.outgoing.push({ seq: this.nextSendSeq++, payload, sentAt: -Infinity, sends: 0 })
    return true
  }

  /** True when nothing is waiting for an acknowledgement. */
  get idle(): boolean {
    return this.outgoing.length === 0
  }

  /** Age of the oldest unacknowledged message that has been sent (0 if none): a liveness signal. */
  oldestUnackedAgeMs(nowMs: number): number {
    const first = this.outgoing[0]
    return first === undefined || first.sends === 0 ? 0 : nowMs - first.sentAt
  }

  stats(): ControlStreamStats {
    const inFlight = this.outgoing.filter((o) => o.sends > 0).length
    return { ...this.counters, inFlight, backlog: this.outgoing.length - inFlight }
  }

  /**
   * Take in one frame from the peer. Returns the messages that became deliverable, in order
   * (possibly none), or a `DecodeError` for a malformed frame (which then changes nothing).
   */
  receive(frame: Uint8Array): Uint8Array[] | DecodeError {
    const r = new ByteReader(frame)
    const ack = r.varint()
    const sack = r.u32()
    const count = r.varint()
    if (r.failed) return new DecodeError('truncated', 'control frame header')
    if (ack >= this.nextSendSeq) return new DecodeError('out_of_range', `ack ${ack} for unsent messages`)
    // Each message takes at least 3 bytes: refuse impossible counts before looping.
    if (count * 3 > r.remaining) return new DecodeError('too_large', `${count} messages`)
    const msgs: { seq: number; payload: Uint8Array }[] = []
    for (let i = 0; i < count; i++) {
      const seq = r.varint()
      const len = r.varint()
      if (r.failed) return new DecodeError('truncated', 'control message header')
      if (seq === 0) return new DecodeError('out_of_range', 'sequence number 0')
      if (len > this.maxMessageBytes) return new DecodeError('too_large', `message of ${len} bytes`)
      const payload = r.bytes(len)
      if (r.failed) return new DecodeError('truncated', 'control message body')
      msgs.push({ seq, payload })
    }
    if (r.remaining !== 0) return new DecodeError('trailing_bytes', 'control frame')

    this.applyAck(ack, sack)
    const out: Uint8Array[] = []
    for (const m of msgs) {
      this.ackOwed = true
      if (m.seq <= this.delivered || this.ahead.has(m.seq)) {
        this.counters.duplicates++
        continue
      }
      if (m.seq > this.delivered + this.maxOutOfOrder) {
        this.counters.droppedAhead++
        continue
      }
      // Copy: the frame's buffer belongs to the transport and may be reused.
      this.ahead.set(m.seq, m.payload.slice())
    }
    for (let next = this.ahead.get(this.delivered + 1); next !== undefined; next = this.ahead.get(this.delivered + 1)) {
      this.ahead.delete(this.delivered + 1)
      this.delivered++
      this.counters.delivered++
      out.push(next)
    }
    return out
  }

  private applyAck(ack: number, sack: number): void {
    let w = 0
    for (const o of this.outgoing) {
      const bit = o.seq - ack - 2
      const held = o.seq <= ack || (bit >= 0 && bit < SACK_BITS && ((sack >>> bit) & 1) === 1)
      if (!held) this.outgoing[w++] = o
    }
    this.outgoing.length = w
  }

  /**
   * The next frame to send at `nowMs`, or null when there is nothing to say. Call until null: each
   * frame carries the current ack and as many due messages as fit.
   */
  poll(nowMs: number): Uint8Array | null {
    const due: Outgoing[] = []
    let size = 12
    const limit = Math.min(this.outgoing.length, this.window)
    for (let i = 0; i < limit; i++) {
      const o = this.outgoing[i]
      if (o === undefined) break
      const wait = this.resendAfterMs * 2 ** Math.min(Math.max(o.sends - 1, 0), 3)
      if (o.sends > 0 && nowMs - o.sentAt < wait) continue
      const cost = o.payload.length + 10
      if (due.length > 0 && size + cost > this.maxFrameBytes) break
      due.push(o)
      size += cost
    }
    if (due.length === 0 && !this.ackOwed) return null
    this.ackOwed = false
    const w = this.writer.reset()
    w.varint(this.delivered).u32(this.sackBits()).varint(due.length)
    for (const o of due) {
      w.varint(o.seq).varint(o.payload.length).bytes(o.payload)
      if (o.sends === 0) this.counters.sent++
      else this.counters.resent++
      o.sends++
      o.sentAt = nowMs
    }
    return w.toBytes()
  }

  private sackBits(): number {
    let bits = 0
    if (this.ahead.size === 0) return 0
    for (let i = 0; i < SACK_BITS; i++) if (this.ahead.has(this.delivered + 2 + i)) bits |= 1 << i
    return bits >>> 0
  }
}
