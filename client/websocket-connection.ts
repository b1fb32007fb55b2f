/**
 * The player library's fallback transport: one WebSocket to the worker process's HTTP port, for
 * networks where WebRTC cannot connect (UDP blocked, no TURN). Same ticket, same frames, same
 * heartbeats and close codes as the data channel (`connection.ts`); the messages arrive reliably and
 * in order, which the game protocol tolerates. Browsers have `WebSocket`; Node before 22 gets it from
 * `installNodeWebSocket()` (client/polyfill-node.ts).
 */
import { TransportOp, WebSocketEndpoint, readAccept } from '../core/wire/transport-frames.ts'
import { ConnectError, FramedConnection } from './connection.ts'
import type { ConnectOptions, Connection } from './connection.ts'

/** What the server's ACCEPT frame carries. */
interface Accepted {
  id: string
  userData: unknown
}

/** `ws://host:port/.tessera/ws` (or `wss:` for an `https:` origin). */
export function webSocketUrl(url: string, port: number): string {
  const origin = new URL(url)
  const scheme = origin.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${origin.hostname.includes(':') ? `[${origin.hostname}]` : origin.hostname}:${port}${WebSocketEndpoint.PATH}`
}

/** Opens a WebSocket connection; rejects with a `ConnectError` (refused tickets carry their status). */
export function connectWebSocket(options: ConnectOptions): Promise<Connection> {
  const Ctor = globalThis.WebSocket as typeof WebSocket | undefined
  if (typeof Ctor === 'undefined') {
    return Promise.reject(new ConnectError('no-websocket', 'no WebSocket: in Node before 22 call installNodeWebSocket() first'))
  }
  const ws = new Ctor(webSocketUrl(options.url, options.port), [WebSocketEndpoint.PROTOCOL, `${WebSocketEndpoint.TICKET_PREFIX}${options.ticket}`])
  ws.binaryType = 'arraybuffer'
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise<Connection>((resolve, reject) => {
    let settled = false
    const fail = (error: ConnectError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      ws.onmessage = null
      ws.onclose = null
      try {
        ws.close()
      } catch {
        // Not open yet, or already closed.
      }
      reject(error)
    }
    const timer = setTimeout(() => fail(new ConnectError('timeout', `not accepted after ${timeoutMs} ms`)), timeoutMs)
    ws.onerror = () => {
      // Always followed by a close event, which says more.
    }
    ws.onclose = (ev: CloseEvent) => {
      const status = ev.code - WebSocketEndpoint.REFUSED_BASE
      if (status >= 400 && status < 600) fail(new ConnectError('refused', `server refused the connection (${status}${ev.reason ? ` ${ev.reason}` : ''})`, status))
      else fail(new ConnectError('failed', `closed before it was accepted (${ev.code})`))
    }
    ws.onmessage = (ev: MessageEvent) => {
      const bytes = ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : undefined
      const accepted = bytes && bytes[0] === TransportOp.ACCEPT ? (readAccept(bytes) as Partial<Accepted> | undefined) : undefined
      if (typeof accepted?.id !== 'string') {
        fail(new ConnectError('failed', 'the server did not accept the connection first'))
        return
      }
      settled = true
      clearTimeout(timer)
      resolve(new WebSocketConnection(ws, accepted.id, accepted.userData, options))
    }
  })
}

class WebSocketConnection extends FramedConnection {
  private readonly maxBufferedBytes: number

  constructor(
    private readonly ws: WebSocket,
    id: string,
    userData: unknown,
    options: ConnectOptions,
  ) {
    super(id, userData, options)
    this.maxBufferedBytes = options.maxBufferedBytes ?? 65536
    ws.onmessage = (ev: MessageEvent) => this.receive(ev.data)
    ws.onclose = () => this.finish('network', undefined)
  }

  protected transmit(bytes: Uint8Array): boolean {
    // Unlike a data channel a WebSocket never drops: past the bound the caller is told to back off.
    if (this.ws.readyState !== this.ws.OPEN || this.ws.bufferedAmount > this.maxBufferedBytes) return false
    this.ws.send(bytes as Uint8Array<ArrayBuffer>)
    return true
  }

  protected release(): void {
    try {
      this.ws.onclose = null
      this.ws.close(1000)
    } catch {
      // Already closed.
    }
  }

  protected goodbye(): void {
    // Closing the socket tells the server; nothing else to do.
  }
}
