/**
 * The player library's transport: one geckos.io data channel to a worker process, opened with a
 * ticket, with a connect timeout and application heartbeats (geckos has neither), raw binary both
 * ways. Runs in browsers as is, and in Node after `installNodeWebRTC()` (client/polyfill-node.ts).
 *
 * Messages whose first byte is 0xF0–0xFF are transport frames (see `frames.ts`) and never reach
 * `onMessage`; everything else is the game protocol's.
 */
import { TransportOp, encodeClose, encodePing, encodePong, isTransportFrame, readCloseCode, readNonce } from '../core/wire/transport-frames.ts'

export interface ConnectOptions {
  /** Server origin without port, e.g. `http://127.0.0.1`. */
  url: string
  /** The worker process's signalling (HTTP) port. */
  port: number
  /** The ticket; sent as `Authorization: Bearer <ticket>`. */
  ticket: string
  /** Give up when the channel is not open after this long. Default 10000 ms. */
  timeoutMs?: number
  /** Ping interval. Default 1000 ms. */
  heartbeatIntervalMs?: number
  /** The server is considered gone after this long without any message. Default 5000 ms. */
  heartbeatTimeoutMs?: number
  /** Outgoing messages are dropped while more than this many bytes are buffered. Default 65536. */
  maxBufferedBytes?: number
}

/** Why a connection ended. */
export type ConnectionCloseReason =
  | 'closed' // `close()` was called
  | 'server-closed' // the server said goodbye (see the code)
  | 'timeout' // nothing heard from the server within the heartbeat timeout
  | 'network' // the peer connection dropped

export interface Connection {
  /** The server-side channel id. */
  readonly id: string
  /** What the server's authorization returned (the principal and route), as JSON. */
  readonly userData: unknown
  readonly open: boolean
  /** Last ping round trip in ms, once measured. */
  readonly rttMs: number | undefined
  /** Sends one unreliable message; false when dropped (closed, reserved first byte, buffer full). */
  sendRaw(bytes: Uint8Array): boolean
  onMessage(listener: (bytes: Uint8Array) => void): void
  /** Called once; `code` is the server's close code when it sent one. */
  onClose(listener: (reason: ConnectionCloseReason, code: number | undefined) => void): void
  close(): void
}

export type ConnectErrorCode = 'refused' | 'timeout' | 'no-webrtc' | 'no-websocket' | 'failed'

export class ConnectError extends Error {
  /** Worth trying again later (a timeout or a network failure, not a refused ticket). */
  readonly retryable: boolean

  constructor(
    readonly code: ConnectErrorCode,
    message: string,
    /** The HTTP status of a refusal (401 bad ticket, 403 forbidden, 503 unavailable). */
    readonly status?: number,
  ) {
    super(message)
    this.name = 'ConnectError'
    this.retryable = code === 'timeout' || code === 'failed' || status === 503
  }
}

/** The geckos client internals used here, typed once. */
interface ChannelInternals {
  url: string
  userData: unknown
  id: string | undefined
  connectionsManager: { localPeerConnection?: RTCPeerConnection; dataChannel?: RTCDataChannel }
  peerConnection?: { localPeerConnection?: RTCPeerConnection; dataChannel?: RTCDataChannel }
  onDisconnect(cb: () => void): void
}

/** Opens a connection; rejects with a `ConnectError`. */
export async function connect(options: ConnectOptions): Promise<Connection> {
  if (typeof globalThis.RTCPeerConnection === 'undefined') {
    throw new ConnectError('no-webrtc', 'no RTCPeerConnection: in Node call installNodeWebRTC() first')
  }
  const { default: geckos } = await import('@geckos.io/client')
  const channel = geckos({ url: options.url, port: options.port, authorization: `Bearer ${options.ticket}` })
  const internals = channel as unknown as ChannelInternals
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise<Connection>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      internals.connectionsManager.localPeerConnection?.close()
      reject(new ConnectError('timeout', `channel not open after ${timeoutMs} ms`))
    }, timeoutMs)
    const onConnect = (error?: { status?: number; message?: string }): void => {
      if (settled) {
        // Opened after we gave up: close it, but not inside geckos' callback.
        if (!error) setTimeout(() => abandon(internals), 0)
        return
      }
      settled = true
      clearTimeout(timer)
      if (error) {
        const status = typeof error.status === 'number' ? error.status : undefined
        reject(
          status !== undefined
            ? new ConnectError('refused', `server refused the connection (${status})`, status)
            : new ConnectError('failed', error.message ?? 'connection failed'),
        )
        return
      }
      const dc = internals.peerConnection?.dataChannel
      const pc = internals.peerConnection?.localPeerConnection
      if (!dc || !pc || internals.id === undefined) {
        reject(new ConnectError('failed', 'connected without a data channel'))
        return
      }
      resolve(new GeckosConnection(internals, pc, dc, options))
    }
    channel.onConnect(onConnect).catch((err: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(new ConnectError('failed', err instanceof Error ? err.message : String(err)))
    })
  })
}

/** Closes a connection nobody will use, telling the server so it can free it at once. */
function abandon(internals: ChannelInternals): void {
  internals.peerConnection?.localPeerConnection?.close()
  notifyServerClose(internals)
}

/** geckos' own close() fires this request without a catch; ours catches and times out. */
function notifyServerClose(internals: ChannelInternals): void {
  if (internals.id === undefined) return
  fetch(`${internals.url}/.wrtc/v2/connections/${internals.id}/close`, {
    method: 'POST',
    signal: AbortSignal.timeout(2000),
  }).catch(() => {
    // The server may be gone; the heartbeat there frees the peer anyway.
  })
}

/** Game messages kept for the first listener; more than this before anyone listens are dropped. */
const MAX_EARLY_MESSAGES = 64

/**
 * What both kinds of connection share: transport frames (ping, pong, close) kept away from the
 * game, heartbeats, listeners, and a single end. Subclasses only move bytes.
 */
export abstract class FramedConnection implements Connection {
  rttMs: number | undefined
  private closed = false
  private lastHeard = now()
  private pingNonce = 0
  private pingSentAt = 0
  private readonly heartbeat: ReturnType<typeof setInterval>
  private readonly messageListeners: Array<(bytes: Uint8Array) => void> = []
  private readonly closeListeners: Array<(reason: ConnectionCloseReason, code: number | undefined) => void> = []
  /** Game messages that arrived before anyone listened (a reliable channel may deliver at once). */
  private early: Uint8Array[] | undefined = []
  private flushScheduled = false

  constructor(
    readonly id: string,
    readonly userData: unknown,
    options: ConnectOptions,
  ) {
    const intervalMs = options.heartbeatIntervalMs ?? 1000
    const timeoutMs = options.heartbeatTimeoutMs ?? 5000
    this.heartbeat = setInterval(() => this.beat(timeoutMs), intervalMs)
  }

  /** Hands bytes to the channel; false when it is not open or its send buffer is backing up. */
  protected abstract transmit(bytes: Uint8Array): boolean
  /** Releases the underlying channel (never throws). */
  protected abstract release(): void
  /** Tells the server, out of band, that this client is gone (after a local close or timeout). */
  protected abstract goodbye(): void

  get open(): boolean {
    return !this.closed
  }

  sendRaw(bytes: Uint8Array): boolean {
    if (bytes.length > 0 && isTransportFrame(bytes)) return false
    return this.send(bytes)
  }

  onMessage(listener: (bytes: Uint8Array) => void): void {
    this.messageListeners.push(listener)
    // Deliver what came early after the caller has finished wiring up (it may still be in a
    // constructor), and keep later arrivals behind it until then, in order.
    if (this.early && !this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => this.flushEarly())
    }
  }

  private flushEarly(): void {
    const early = this.early
    this.early = undefined
    for (const bytes of early ?? []) for (const listener of this.messageListeners) listener(bytes)
  }

  onClose(listener: (reason: ConnectionCloseReason, code: number | undefined) => void): void {
    this.closeListeners.push(listener)
  }

  close(): void {
    if (this.closed) return
    this.send(encodeClose(1000))
    this.finish('closed', undefined)
    this.goodbye()
  }

  protected receive(data: unknown): void {
    if (this.closed) return
    this.lastHeard = now()
    let bytes: Uint8Array
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data)
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    else return // the server never sends text
    if (!isTransportFrame(bytes)) {
      if (this.early) {
        if (this.early.length < MAX_EARLY_MESSAGES) this.early.push(bytes)
      } else for (const listener of this.messageListeners) listener(bytes)
      return
    }
    switch (bytes[0]) {
      case TransportOp.PING: {
        const nonce = readNonce(bytes)
        if (nonce !== undefined) this.send(encodePong(nonce))
        return
      }
      case TransportOp.PONG:
        if (readNonce(bytes) === this.pingNonce && this.pingSentAt > 0) this.rttMs = now() - this.pingSentAt
        return
      case TransportOp.CLOSE:
        this.finish('server-closed', readCloseCode(bytes))
        return
      default:
        return
    }
  }

  private beat(timeoutMs: number): void {
    const t = now()
    if (t - this.lastHeard > timeoutMs) {
      this.finish('timeout', undefined)
      this.goodbye()
      return
    }
    this.pingNonce = (this.pingNonce + 1) >>> 0
    this.pingSentAt = t
    this.send(encodePing(this.pingNonce))
  }

  private send(bytes: Uint8Array): boolean {
    if (this.closed) return false
    try {
      return this.transmit(bytes)
    } catch {
      return false
    }
  }

  protected finish(reason: ConnectionCloseReason, code: number | undefined): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    this.release()
    for (const listener of this.closeListeners) listener(reason, code)
    this.messageListeners.length = 0
    this.closeListeners.length = 0
    this.early = undefined
  }
}

class GeckosConnection extends FramedConnection {
  private readonly maxBufferedBytes: number

  constructor(
    private readonly internals: ChannelInternals,
    private readonly pc: RTCPeerConnection,
    private readonly dc: RTCDataChannel,
    options: ConnectOptions,
  ) {
    super(internals.id as string, internals.userData, options)
    this.maxBufferedBytes = options.maxBufferedBytes ?? 65536
    dc.binaryType = 'arraybuffer'
    // Bypass geckos' parser: raw bytes straight in, no JSON attempt on every message.
    dc.onmessage = (ev: MessageEvent) => this.receive(ev.data)
    internals.onDisconnect(() => this.finish('network', undefined))
  }

  protected transmit(bytes: Uint8Array): boolean {
    if (this.dc.readyState !== 'open' || this.dc.bufferedAmount > this.maxBufferedBytes) return false
    this.dc.send(bytes as Uint8Array<ArrayBuffer>)
    return true
  }

  protected release(): void {
    try {
      this.pc.close()
    } catch {
      // Already closed.
    }
  }

  protected goodbye(): void {
    notifyServerClose(this.internals)
  }
}

function now(): number {
  return performance.now()
}
