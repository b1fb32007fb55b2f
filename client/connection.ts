/**
 * The player library's transport: one WebRTC data channel to a worker process's geckos.io server,
 * opened with a ticket over geckos.io's HTTP signalling, with a connect timeout and application
 * heartbeats (geckos has neither), raw binary both ways. Runs in browsers as is, and in Node after
 * `installNodeWebRTC()` (client/polyfill-node.ts). The signalling is spoken here rather than through
 * `@geckos.io/client`, whose connection keeps polling the server for ICE candidates for ~10 s: ten
 * HTTP requests per player, most of them after the channel is long open.
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
  /** STUN/TURN servers for the peer connection (WebRTC only). Default none: host candidates. */
  iceServers?: RTCIceServer[]
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

/** The label of the data channel geckos.io's server opens. */
const CHANNEL_LABEL = 'geckos.io'

/**
 * When to ask the server for ICE candidates it gathered after its offer: geckos.io's client
 * schedule (50 ms × 1.8ⁿ, ten times, ~9.9 s in all), but only until the channel is open. On a
 * reachable server the offer's own candidates connect first and most polls are never sent.
 */
const CANDIDATE_POLLS_MS = Array.from({ length: 10 }, (_, n) => Math.round(50 * 1.8 ** n))

/** What `POST /.wrtc/v2/connections` answers (geckos.io's signalling). */
interface Offer {
  id: string
  localDescription: RTCSessionDescriptionInit
  userData: unknown
}

/**
 * Opens a connection; rejects with a `ConnectError`. Speaks geckos.io's signalling (offer from the
 * server, answer back, late candidates polled) and uses the data channel directly: raw bytes both
 * ways, no geckos.io event parsing.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  if (typeof globalThis.RTCPeerConnection === 'undefined') {
    throw new ConnectError('no-webrtc', 'no RTCPeerConnection: in Node call installNodeWebRTC() first')
  }
  const abort = new AbortController()
  const signalling = new Signalling(`${options.url}:${options.port}/.wrtc/v2`, abort.signal)
  const timeoutMs = options.timeoutMs ?? 10_000
  let pc: RTCPeerConnection | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ConnectError('timeout', `channel not open after ${timeoutMs} ms`)) // settles the races first
      abort.abort()
    }, timeoutMs)
  })
  gaveUp.catch(() => {}) // observed below; never an unhandled rejection
  try {
    const offer = await Promise.race([signalling.offer(options.ticket), gaveUp])
    pc = new RTCPeerConnection({ iceServers: options.iceServers ?? [] })
    const opened = channelOpened(pc)
    // Polls start now (the server may still be gathering); what they bring waits for the offer.
    const described = pc.setRemoteDescription(offer.localDescription)
    signalling.pollCandidates(pc, described)
    await described
    await pc.setLocalDescription(await pc.createAnswer())
    await Promise.race([signalling.answer(pc.localDescription), gaveUp])
    const dc = await Promise.race([opened, gaveUp])
    return new GeckosConnection(signalling, offer, pc, dc, options)
  } catch (err) {
    signalling.stop()
    if (pc) {
      pc.close()
      signalling.close()
    }
    if (err instanceof ConnectError) throw err
    throw new ConnectError('failed', err instanceof Error ? err.message : String(err))
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves with the server's data channel once it is open; rejects when the peer connection fails. */
function channelOpened(pc: RTCPeerConnection): Promise<RTCDataChannel> {
  return new Promise((resolve, reject) => {
    pc.addEventListener('datachannel', (ev: RTCDataChannelEvent) => {
      const dc = ev.channel
      if (dc.label !== CHANNEL_LABEL) return
      dc.binaryType = 'arraybuffer'
      if (dc.readyState === 'open') resolve(dc)
      else dc.addEventListener('open', () => resolve(dc), { once: true })
    })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') reject(new ConnectError('failed', `peer connection ${pc.connectionState}`))
    })
  })
}

/** geckos.io's HTTP signalling for one connection (its id is the server's, from the offer). */
class Signalling {
  private polls: Array<ReturnType<typeof setTimeout>> = []
  private id = ''

  constructor(
    private readonly base: string,
    /** Aborts the offer and answer requests when the connect gives up. */
    private readonly signal: AbortSignal,
  ) {}

  async offer(ticket: string): Promise<Offer> {
    let res: Response
    try {
      res = await fetch(`${this.base}/connections`, {
        method: 'POST', headers: { authorization: `Bearer ${ticket}`, 'content-type': 'application/json' }, signal: this.signal,
      })
    } catch (err) {
      throw new ConnectError('failed', err instanceof Error ? err.message : String(err))
    }
    if (res.status >= 300) {
      await res.body?.cancel()
      throw new ConnectError('refused', `server refused the connection (${res.status})`, res.status)
    }
    const offer = (await res.json()) as Partial<Offer>
    if (typeof offer.id !== 'string' || !offer.localDescription) throw new ConnectError('failed', 'the server sent no offer')
    this.id = offer.id
    return offer as Offer
  }

  async answer(description: RTCSessionDescription | null): Promise<void> {
    const res = await fetch(`${this.base}/connections/${this.id}/remote-description`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(description), signal: this.signal,
    })
    await res.body?.cancel()
    if (!res.ok) throw new ConnectError('failed', `the server did not take the answer (${res.status})`)
  }

  /** Adds the server's late candidates on the schedule above, until `stop()` (the channel opened). */
  pollCandidates(pc: RTCPeerConnection, described: Promise<void>): void {
    this.polls = CANDIDATE_POLLS_MS.map((ms) =>
      setTimeout(() => {
        this.candidates(pc, described).catch(() => {
          // A poll that fails is as good as one that found nothing; the next may succeed.
        })
      }, ms),
    )
  }

  stop(): void {
    for (const t of this.polls) clearTimeout(t)
    this.polls = []
  }

  /** Tells the server this client is gone, so it frees the peer at once (best effort). */
  close(): void {
    this.stop()
    if (this.id === '') return
    fetch(`${this.base}/connections/${this.id}/close`, { method: 'POST', signal: AbortSignal.timeout(2000) })
      .then((res) => res.body?.cancel())
      .catch(() => {
        // The server may be gone; its heartbeat frees the peer anyway.
      })
  }

  /**
   * One poll. The server hands each candidate out once, so one that arrives before the offer is
   * set on the peer connection waits for it: added earlier it would be refused and lost for good.
   */
  private async candidates(pc: RTCPeerConnection, described: Promise<void>): Promise<void> {
    const res = await fetch(`${this.base}/connections/${this.id}/additional-candidates`, { signal: AbortSignal.timeout(2000) })
    if (!res.ok) {
      await res.body?.cancel()
      return
    }
    const list = (await res.json()) as RTCIceCandidateInit[]
    await described
    if (pc.connectionState === 'closed') return
    for (const candidate of Array.isArray(list) ? list : []) await pc.addIceCandidate(candidate).catch(() => {})
  }
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
    private readonly signalling: Signalling,
    offer: Offer,
    private readonly pc: RTCPeerConnection,
    private readonly dc: RTCDataChannel,
    options: ConnectOptions,
  ) {
    super(offer.id, offer.userData, options)
    signalling.stop()
    this.maxBufferedBytes = options.maxBufferedBytes ?? 65536
    dc.onmessage = (ev: MessageEvent) => this.receive(ev.data)
    dc.onclose = () => this.finish('network', undefined)
    pc.addEventListener('connectionstatechange', () => {
      const state = pc.connectionState
      if (state === 'disconnected' || state === 'failed' || state === 'closed') this.finish('network', undefined)
    })
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
    this.signalling.close()
  }
}

function now(): number {
  return performance.now()
}
