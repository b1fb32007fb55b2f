/**
 * One accepted client channel as route handlers see it: raw bytes in and out, with the transport's
 * limits, heartbeats and close handling applied, whether it is a geckos.io data channel or the
 * WebSocket fallback. Handlers never touch geckos.io or `ws` objects.
 */
import type { Logger } from '../../core/log.ts'
import type { ClientLimits } from './limits.ts'
import { TokenBucket, ViolationCounter } from './limits.ts'
import type { CloseReason, DropKind, TransportStats } from './stats.ts'
import { bump } from './stats.ts'
import {
  TransportCloseCode,
  TransportOp,
  encodeClose,
  encodePing,
  encodePong,
  isTransportFrame,
  readNonce,
} from '../../core/wire/transport-frames.ts'

/** What the handler registered for a route receives. */
export interface RouteHandler<P extends object = Record<string, unknown>> {
  /** A client with a ticket for this route opened its channel. Exceptions close the connection (1011). */
  onConnect(conn: ClientConnection<P>): void
}

export interface ClientConnection<P extends object = Record<string, unknown>> {
  /** Channel id, unique within the process while open: geckos.io's (24 characters) or `ws-<n>`. */
  readonly id: string
  /** The in-process worker this client was routed to. */
  readonly route: string
  /** Who the client is, as returned by `authorize` (never secrets: it is echoed to the client). */
  readonly principal: P
  /** Last measured round trip of a transport ping, in ms (undefined before the first pong). */
  readonly rttMs: number | undefined
  readonly open: boolean
  /**
   * Sends one unreliable, unordered message. Returns false when it was dropped: closed, too large
   * for the channel, starting with a reserved byte (0xF0–0xFF), or the send buffer is backing up.
   */
  sendRaw(bytes: Uint8Array): boolean
  /** Receives every non-transport message (first byte < 0xF0) that passed the limits. */
  onMessage(listener: (bytes: Uint8Array) => void): void
  /** Called once when the connection ends, for whatever reason. */
  onClose(listener: (reason: CloseReason, code: number | undefined) => void): void
  /** Closes the connection, telling the client `code` (default 1000). Idempotent. */
  close(code?: number): void
}

/** The parts of a node-datachannel DataChannel this file uses (a WebSocket is adapted to it). */
export interface NativeDataChannel {
  sendMessageBinary(buffer: Uint8Array): boolean
  isOpen(): boolean
  bufferedAmount(): number
  maxMessageSize(): number
  onMessage(cb: (msg: string | Buffer | ArrayBuffer) => void): void
  onClosed(cb: () => void): void
}

export interface ConnectionEnv {
  limits: ClientLimits
  stats: TransportStats
  logger: Logger
  /** Drop outgoing unreliable messages while more than this many bytes wait in the send buffer. */
  maxBufferedBytes: number
  /** Delay between sending a CLOSE frame and tearing the peer connection down. */
  closeGraceMs: number
  now(): number
  /** Tears down the underlying peer connection (never throws). */
  teardown(id: string): void
  /** Called once after the connection closed, so the transport forgets it. */
  forget(id: string, reason: CloseReason): void
}

export class ChannelClientConnection<P extends object> implements ClientConnection<P> {
  private closed = false
  private readonly messageListeners: Array<(bytes: Uint8Array) => void> = []
  private readonly closeListeners: Array<(reason: CloseReason, code: number | undefined) => void> = []
  private readonly bucket: TokenBucket
  private readonly violations: ViolationCounter
  private lastHeard: number
  private pingNonce = 0
  private pingSentAt = 0
  rttMs: number | undefined

  constructor(
    readonly id: string,
    readonly route: string,
    readonly principal: P,
    private readonly dc: NativeDataChannel,
    private readonly env: ConnectionEnv,
  ) {
    const now = env.now()
    this.lastHeard = now
    this.bucket = new TokenBucket(env.limits.maxMessagesPerSecond, env.limits.burst, now)
    this.violations = new ViolationCounter(env.limits.maxViolations, env.limits.violationWindowMs, now)
  }

  get open(): boolean {
    return !this.closed
  }

  onMessage(listener: (bytes: Uint8Array) => void): void {
    this.messageListeners.push(listener)
  }

  onClose(listener: (reason: CloseReason, code: number | undefined) => void): void {
    this.closeListeners.push(listener)
  }

  sendRaw(bytes: Uint8Array): boolean {
    if (bytes.length > 0 && isTransportFrame(bytes)) return this.drop('out-reserved')
    return this.send(bytes)
  }

  close(code: number = TransportCloseCode.NORMAL): void {
    this.closeWith('server-closed', code)
  }

  /** Entry point for every message node-datachannel delivers on this channel. */
  receive(msg: string | Buffer | ArrayBuffer): void {
    if (this.closed) return
    const now = this.env.now()
    this.lastHeard = now
    const { stats, limits } = this.env
    stats.messagesIn++
    // Only binary is ever valid; text would go through geckos' JSON event path, which we bypass.
    if (typeof msg === 'string') {
      stats.bytesIn += msg.length
      return this.violation('malformed', now)
    }
    const bytes = msg instanceof ArrayBuffer ? new Uint8Array(msg) : new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)
    stats.bytesIn += bytes.length
    if (bytes.length > limits.maxMessageBytes) return this.violation('oversize', now)
    if (!this.bucket.take(now)) return this.violation('rate', now)
    if (bytes.length === 0) return this.violation('malformed', now)
    if (isTransportFrame(bytes)) return this.transportFrame(bytes, now)
    for (const listener of this.messageListeners) {
      try {
        listener(bytes)
      } catch (err) {
        stats.handlerErrors++
        this.env.logger.warn({ err, conn: this.id }, 'message handler threw')
      }
    }
  }

  /** Heartbeat step: pings the client, or closes it when it has been silent too long. */
  heartbeat(now: number, timeoutMs: number): void {
    if (this.closed) return
    if (now - this.lastHeard > timeoutMs) {
      this.closeWith('timeout', TransportCloseCode.TIMEOUT)
      return
    }
    this.pingNonce = (this.pingNonce + 1) >>> 0
    this.pingSentAt = now
    this.send(encodePing(this.pingNonce))
  }

  /**
   * Ends the connection for a transport-level `reason`. With a `code` the client is told (CLOSE
   * frame); without one the peer is already gone or going.
   */
  end(reason: CloseReason, code?: number): void {
    this.closeWith(reason, code)
  }

  private transportFrame(bytes: Uint8Array, now: number): void {
    switch (bytes[0]) {
      case TransportOp.PING: {
        const nonce = readNonce(bytes)
        if (nonce === undefined) return this.violation('malformed', now)
        this.send(encodePong(nonce))
        return
      }
      case TransportOp.PONG: {
        if (readNonce(bytes) === this.pingNonce && this.pingSentAt > 0) this.rttMs = now - this.pingSentAt
        return
      }
      case TransportOp.CLOSE:
        this.closeWith('client-closed', undefined)
        return
      default:
        return this.violation('malformed', now)
    }
  }

  private violation(kind: DropKind, now: number): void {
    bump(this.env.stats.drops, kind)
    if (this.violations.add(now)) {
      this.env.logger.warn({ conn: this.id, route: this.route, kind }, 'client exceeded its limits; disconnecting')
      this.closeWith('abuse', TransportCloseCode.ABUSE)
    }
  }

  private send(bytes: Uint8Array): boolean {
    if (this.closed) return this.drop('out-closed')
    const dc = this.dc
    try {
      if (!dc.isOpen()) return this.drop('out-closed')
      if (bytes.length > dc.maxMessageSize()) return this.drop('out-too-large')
      if (dc.bufferedAmount() > this.env.maxBufferedBytes) return this.drop('out-buffered')
      dc.sendMessageBinary(bytes)
    } catch {
      // The native channel can close between isOpen() and send; that is a drop, not an error.
      return this.drop('out-closed')
    }
    this.env.stats.messagesOut++
    this.env.stats.bytesOut += bytes.length
    return true
  }

  private drop(kind: DropKind): false {
    bump(this.env.stats.drops, kind)
    return false
  }

  private closeWith(reason: CloseReason, code: number | undefined): void {
    if (this.closed) return
    const notify = code !== undefined
    if (notify) this.send(encodeClose(code))
    this.closed = true
    bump(this.env.stats.disconnects, reason)
    this.env.forget(this.id, reason)
    // Never tear down synchronously: we may be inside a native callback of this very channel
    // (closing there is what crashed servers), and a CLOSE frame needs a moment to leave.
    setTimeout(() => this.env.teardown(this.id), notify ? this.env.closeGraceMs : 0)
    for (const listener of this.closeListeners) {
      try {
        listener(reason, code)
      } catch (err) {
        this.env.stats.handlerErrors++
        this.env.logger.warn({ err, conn: this.id }, 'close handler threw')
      }
    }
    this.messageListeners.length = 0
    this.closeListeners.length = 0
  }
}
