/**
 * One session: one connection to one worker, from the channel opening to its close. It decodes what
 * the server sends (snapshots through a `SnapshotReceiver`, control frames through our reliable
 * `ControlStream`, pongs), and on every client tick sends one INPUT packet (the new input plus the
 * unacknowledged ones, for redundancy) or a bare ACK, control acknowledgements, and now and then a
 * PING. No timers inside: the client calls `tick(nowMs)`; tests drive it with a fake connection.
 */
import { ControlStream } from '../core/wire/control-stream.ts'
import { decodeControlMessage } from '../core/wire/control-messages.ts'
import type { ControlMessage, JoinAccepted } from '../core/wire/control-messages.ts'
import { isDecodeError } from '../core/wire/errors.ts'
import { InputHistory, encodeInputPacket, quantizeAxis } from '../core/wire/input-codec.ts'
import { decodeServerDatagram, encodeAck, encodeControlDatagram, encodePing } from '../core/wire/messages.ts'
import { SnapshotReceiver } from '../core/wire/snapshot-receiver.ts'
import type { SnapshotApplied } from '../core/wire/snapshot-receiver.ts'
import type { Connection, ConnectionCloseReason } from './connection.ts'

/** What a player does this tick. Axes are -1…1 (clamped); `buttons` is a 16-bit set. */
export interface PlayerInput {
  moveX: number
  moveY: number
  buttons?: number
}

/** Counters of one session (the client adds them up across sessions). */
export interface SessionCounters {
  snapshots: number
  /** Snapshots older than one already applied (reordered or duplicated by the network). */
  staleSnapshots: number
  /** Snapshots that did not decode (lost baseline, corrupt). */
  badSnapshots: number
  /** Ticks skipped between consecutive applied snapshots (lost or late snapshots). */
  tickGaps: number
  /** Inputs recorded (each gets a sequence number). */
  inputsSent: number
  /** Highest input sequence number the server acknowledged as applied. */
  inputsAcked: number
  /** Inputs pushed out of the redundancy window before the server acknowledged them. */
  inputsUnconfirmed: number
  /** The acknowledged input sequence went backwards (must never happen). */
  ackRegressions: number
  bytesIn: number
  bytesOut: number
  controlMessages: number
}

/** Why a session ended and what the server said last about it. */
export interface SessionEnd {
  reason: ConnectionCloseReason
  /** The close code the transport carried, if any. */
  code: number | undefined
  /** The last `error`, `kick` or `bye` control message received, if any. */
  explanation: Extract<ControlMessage, { kind: 'error' | 'kick' | 'bye' }> | undefined
}

export interface SessionHandlers {
  joined(msg: JoinAccepted): void
  control(msg: ControlMessage): void
  snapshot(result: SnapshotApplied, fresh: boolean): void
  ended(end: SessionEnd): void
  /** The server sent something that does not decode. */
  protocolError(detail: string): void
}

export interface SessionOptions {
  /** Unacknowledged inputs repeated per packet (default 4). */
  inputRedundancy?: number
  /**
   * Game-level ping interval for the server tick and RTT (default 5000 ms): snapshots carry the
   * tick and the transport's heartbeat measures RTT every second, so this only fills in when idle.
   */
  pingIntervalMs?: number
}

export class Session {
  readonly counters: SessionCounters = {
    snapshots: 0, staleSnapshots: 0, badSnapshots: 0, tickGaps: 0, inputsSent: 0, inputsAcked: 0,
    inputsUnconfirmed: 0, ackRegressions: 0, bytesIn: 0, bytesOut: 0, controlMessages: 0,
  }
  private readonly receiver = new SnapshotReceiver()
  private readonly control = new ControlStream()
  private readonly inputs: InputHistory
  private readonly redundancy: number
  private readonly pingIntervalMs: number
  private accepted: JoinAccepted | undefined
  private explanation: SessionEnd['explanation']
  private lastPingAt = -Infinity
  private pingNonce = 0
  private fresh = true
  private ended = false
  private lastAckSent: number | null = null
  /** Round trip of the last game-level ping, ms. */
  rttMs: number | undefined
  /** Server tick from the last pong or snapshot. */
  serverTick: number | undefined

  constructor(
    readonly conn: Connection,
    private readonly handlers: SessionHandlers,
    private readonly now: () => number,
    options: SessionOptions = {},
  ) {
    this.redundancy = options.inputRedundancy ?? 4
    this.inputs = new InputHistory(this.redundancy)
    this.pingIntervalMs = options.pingIntervalMs ?? 5000
    conn.onMessage((bytes) => this.receive(bytes))
    conn.onClose((reason, code) => this.finish(reason, code))
  }

  /** The join-accepted message, once received. */
  get joined(): JoinAccepted | undefined {
    return this.accepted
  }

  get open(): boolean {
    return !this.ended
  }

  /** Tick of the newest snapshot applied (what is acknowledged), or null. */
  get latestTick(): number | null {
    return this.receiver.latestTick
  }

  /** The newest snapshot's entity with `id`, quantised. */
  entity(id: number): ReturnType<SnapshotReceiver['entity']> {
    return this.receiver.entity(id)
  }

  /**
   * One client tick: record `input` (if any) as the next sequenced input and send it with the
   * unacknowledged ones; otherwise acknowledge the newest snapshot alone. Then flush control
   * frames and maybe ping.
   */
  tick(input: PlayerInput | undefined): void {
    if (this.ended) return
    const nowMs = this.now()
    const ackTick = this.receiver.latestTick
    if (input !== undefined && this.accepted !== undefined) {
      const target = (this.serverTick ?? this.accepted.tick) + 1
      const pendingBefore = this.pendingInputs()
      this.inputs.push(target, quantizeAxis(input.moveX), quantizeAxis(input.moveY), (input.buttons ?? 0) & 0xffff)
      this.counters.inputsSent++
      // The history keeps `redundancy` inputs: one more unacknowledged input pushes the oldest out.
      if (pendingBefore >= this.redundancy) this.counters.inputsUnconfirmed++
    }
    const packet = this.inputs.packet(ackTick)
    if (packet.inputs.length > 0) this.send(encodeInputPacket(packet))
    else if (ackTick !== null && ackTick !== this.lastAckSent) this.send(encodeAck(ackTick))
    this.lastAckSent = ackTick
    this.flushControl(nowMs)
    if (nowMs - this.lastPingAt >= this.pingIntervalMs) {
      this.lastPingAt = nowMs
      this.pingNonce = (this.pingNonce + 1) >>> 0
      this.send(encodePing({ nonce: this.pingNonce, clientTimeMs: nowMs }))
    }
  }

  close(): void {
    this.conn.close()
  }

  private pendingInputs(): number {
    return this.counters.inputsSent - this.counters.inputsAcked
  }

  private send(bytes: Uint8Array): void {
    if (this.conn.sendRaw(bytes)) this.counters.bytesOut += bytes.length
  }

  private flushControl(nowMs: number): void {
    for (let frame = this.control.poll(nowMs); frame; frame = this.control.poll(nowMs)) {
      this.send(encodeControlDatagram('client', frame))
    }
  }

  private receive(bytes: Uint8Array): void {
    if (this.ended) return
    this.counters.bytesIn += bytes.length
    const msg = decodeServerDatagram(bytes)
    if (isDecodeError(msg)) {
      this.handlers.protocolError(msg.toString())
      return
    }
    switch (msg.type) {
      case 'snapshot':
        this.snapshot(msg.bytes)
        return
      case 'control':
        this.controlFrame(msg.frame)
        return
      case 'pong':
        if (msg.nonce === this.pingNonce) this.rttMs = this.now() - msg.clientTimeMs
        this.serverTick = Math.max(this.serverTick ?? 0, msg.serverTick)
        return
    }
  }

  private snapshot(bytes: Uint8Array): void {
    const before = this.receiver.latestTick
    const result = this.receiver.receive(bytes)
    if (isDecodeError(result)) {
      this.counters.badSnapshots++
      return
    }
    if (result.kind === 'stale') {
      this.counters.staleSnapshots++
      return
    }
    this.counters.snapshots++
    if (before !== null && result.tick > before + 1) this.counters.tickGaps += result.tick - before - 1
    this.serverTick = Math.max(this.serverTick ?? 0, result.tick)
    if (result.ackInputSeq < this.counters.inputsAcked) this.counters.ackRegressions++
    else if (result.ackInputSeq > this.counters.inputsAcked) {
      this.counters.inputsAcked = Math.min(result.ackInputSeq, this.counters.inputsSent)
      this.inputs.acknowledge(result.ackInputSeq)
    }
    const fresh = this.fresh
    this.fresh = false
    this.handlers.snapshot(result, fresh)
  }

  private controlFrame(frame: Uint8Array): void {
    const delivered = this.control.receive(frame)
    if (isDecodeError(delivered)) {
      this.handlers.protocolError(delivered.toString())
      return
    }
    for (const payload of delivered) {
      const message = decodeControlMessage(payload)
      if (isDecodeError(message)) {
        this.handlers.protocolError(message.toString())
        continue
      }
      this.counters.controlMessages++
      if (message.kind === 'join-accepted') {
        this.accepted = message
        this.serverTick = Math.max(this.serverTick ?? 0, message.tick)
        this.handlers.joined(message)
      } else if (message.kind === 'error' || message.kind === 'kick' || message.kind === 'bye') {
        this.explanation = message
      }
      this.handlers.control(message)
    }
    // Acknowledge at once: the server resends whatever we leave unacknowledged.
    this.flushControl(this.now())
  }

  private finish(reason: ConnectionCloseReason, code: number | undefined): void {
    if (this.ended) return
    this.ended = true
    this.handlers.ended({ reason, code, explanation: this.explanation })
  }
}
