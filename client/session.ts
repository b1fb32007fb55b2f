/**
 * One session: one connection to one worker, from the channel opening to its close. It decodes what
 * the server sends (snapshots through a `SnapshotReceiver`, control frames through our reliable
 * `ControlStream`, pongs), and on every client tick sends one INPUT packet (the new input plus the
 * unacknowledged ones, for redundancy) or a bare ACK, control acknowledgements, and now and then a
 * PING. No timers inside: the client calls `tick(nowMs)`; tests drive it with a fake connection.
 *
 * Inputs are numbered by an `InputLane`, the session's own or one handed over from the session it
 * replaces when the player migrates to another worker (the numbering continues there).
 */
import { ControlStream } from '../core/wire/control-stream.ts'
import { decodeControlMessage, encodeControlMessage } from '../core/wire/control-messages.ts'
import type { ControlMessage, JoinAccepted } from '../core/wire/control-messages.ts'
import { isDecodeError } from '../core/wire/errors.ts'
import { encodeInputPacket } from '../core/wire/input-codec.ts'
import { decodeServerDatagram, encodeAck, encodeControlDatagram, encodePing } from '../core/wire/messages.ts'
import { SnapshotReceiver } from '../core/wire/snapshot-receiver.ts'
import type { SnapshotApplied } from '../core/wire/snapshot-receiver.ts'
import type { WireEntity } from '../core/wire/entity-table.ts'
import type { Connection, ConnectionCloseReason } from './connection.ts'
import { InputLane } from './input-lane.ts'
import type { LaneCounters, PlayerInput } from './input-lane.ts'

export type { PlayerInput } from './input-lane.ts'

/**
 * Counters of one session (the client adds them up across sessions). The input counters are the
 * lane's: sessions that share a lane (a migration) share them.
 */
export interface SessionCounters extends LaneCounters {
  snapshots: number
  /** Snapshots older than one already applied (reordered or duplicated by the network). */
  staleSnapshots: number
  /** Snapshots that did not decode (lost baseline, corrupt). */
  badSnapshots: number
  /** Ticks skipped between consecutive applied snapshots (lost or late snapshots). */
  tickGaps: number
  /** The acknowledged input sequence went backwards within this session (must never happen). */
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
  /**
   * A snapshot applied. With `fresh` (the session's first, or the first after `restartView`),
   * `result.added` holds the whole entity set and `updated`/`removed` are empty.
   */
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
  /** Continue this lane's input numbering (a migration) instead of starting a new one at 1. */
  lane?: InputLane
  /**
   * Report what each snapshot changed (`added`, `updated`, `removed`). Default true; without, they
   * are empty and decoding allocates nothing per entity (a client that does not track entities).
   */
  changes?: boolean
  /** Tell the worker, once joined, that this client opens no standby connections (`no-standby`). */
  noStandby?: boolean
}

/** The counters a session keeps itself (the others are its lane's). */
type OwnCounters = Omit<SessionCounters, keyof LaneCounters>

export class Session {
  /** The session's numbered inputs (shared with the session it replaced or the one replacing it). */
  readonly lane: InputLane
  private readonly own: OwnCounters = {
    snapshots: 0, staleSnapshots: 0, badSnapshots: 0, tickGaps: 0, ackRegressions: 0, bytesIn: 0, bytesOut: 0, controlMessages: 0,
  }
  private readonly receiver: SnapshotReceiver
  private readonly noStandby: boolean
  private readonly control = new ControlStream()
  private readonly pingIntervalMs: number
  private accepted: JoinAccepted | undefined
  private explanation: SessionEnd['explanation']
  private lastPingAt = -Infinity
  private pingNonce = 0
  private fresh = true
  private ended = false
  private lastAckSent: number | null = null
  /** Highest input acknowledgement this session received (regressions are counted per session). */
  private highestAck = 0
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
    this.lane = options.lane ?? new InputLane(options.inputRedundancy ?? 4)
    this.receiver = new SnapshotReceiver({ changes: options.changes ?? true })
    this.noStandby = options.noStandby ?? false
    this.pingIntervalMs = options.pingIntervalMs ?? 5000
    conn.onMessage((bytes) => this.receive(bytes))
    conn.onClose((reason, code) => this.finish(reason, code))
  }

  /** This session's counters, its lane's included (a copy). */
  get counters(): SessionCounters {
    return { ...this.own, ...this.lane.counters }
  }

  /** The counters this session keeps itself, without its lane's (a copy). */
  get ownCounters(): Readonly<Omit<SessionCounters, keyof LaneCounters>> {
    return { ...this.own }
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
   * Report the next snapshot whole (as `fresh`), as if the receiver had just been reset: the client
   * calls it when this session takes over the game's view from another one.
   */
  restartView(): void {
    this.fresh = true
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
      this.lane.record((this.serverTick ?? this.accepted.tick) + 1, input)
    }
    const packet = this.lane.packet(ackTick)
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

  private send(bytes: Uint8Array): void {
    if (this.conn.sendRaw(bytes)) this.own.bytesOut += bytes.length
  }

  private flushControl(nowMs: number): void {
    for (let frame = this.control.poll(nowMs); frame; frame = this.control.poll(nowMs)) {
      this.send(encodeControlDatagram('client', frame))
    }
  }

  private receive(bytes: Uint8Array): void {
    if (this.ended) return
    this.own.bytesIn += bytes.length
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
      this.own.badSnapshots++
      return
    }
    if (result.kind === 'stale') {
      this.own.staleSnapshots++
      return
    }
    this.own.snapshots++
    if (before !== null && result.tick > before + 1) this.own.tickGaps += result.tick - before - 1
    this.serverTick = Math.max(this.serverTick ?? 0, result.tick)
    if (result.ackInputSeq < this.highestAck) this.own.ackRegressions++
    else {
      this.highestAck = result.ackInputSeq
      this.lane.acknowledge(result.ackInputSeq)
    }
    const fresh = this.fresh
    this.fresh = false
    this.handlers.snapshot(fresh ? this.whole(result) : result, fresh)
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
      this.own.controlMessages++
      if (message.kind === 'join-accepted') {
        this.accepted = message
        this.serverTick = Math.max(this.serverTick ?? 0, message.tick)
        // Sent with the acknowledgement below, and resent until acknowledged.
        if (this.noStandby) this.control.send(encodeControlMessage({ kind: 'no-standby' }))
        this.handlers.joined(message)
      } else if (message.kind === 'error' || message.kind === 'kick' || message.kind === 'bye') {
        this.explanation = message
      }
      this.handlers.control(message)
    }
    // Acknowledge at once: the server resends whatever we leave unacknowledged.
    this.flushControl(this.now())
  }

  /**
   * `result` with the receiver's whole entity set as `added` (a no-op right after a reset, or when
   * changes are not reported).
   */
  private whole(result: SnapshotApplied): SnapshotApplied {
    if (!this.receiver.reportsChanges) return result
    if (result.updated.length === 0 && result.removed.length === 0 && result.added.length === this.receiver.state.count) return result
    const all = this.receiver.state
    const added: WireEntity[] = []
    for (let i = 0; i < all.count; i++) added.push(all.get(i))
    return { ...result, added, updated: [], removed: [] }
  }

  private finish(reason: ConnectionCloseReason, code: number | undefined): void {
    if (this.ended) return
    this.ended = true
    this.handlers.ended({ reason, code, explanation: this.explanation })
  }
}
