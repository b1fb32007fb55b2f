/**
 * The WebSocket fallback of the client transport, for players whose network blocks WebRTC (UDP
 * filtered, strict corporate proxies). It shares the geckos.io transport's HTTP server, routes,
 * limits, heartbeats and close codes: a WebSocket is wrapped as the same `NativeDataChannel` a
 * geckos channel is, so `ChannelClientConnection` treats both alike. It is reliable and ordered
 * where the data channel is not; the game protocol's own reliability layer works over it unchanged.
 *
 * Handshake (`WebSocketEndpoint` in core/wire/transport-frames.ts): the ticket arrives as a
 * subprotocol; it is checked before the upgrade completes, so an admitted client's first message is
 * ACCEPT and nothing it sends is read before its route exists. A refused client is upgraded only to
 * be closed with 4000 + status, because a browser cannot read the status of a failed upgrade.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import type { NativeDataChannel } from './client-connection.ts'
import { WebSocketEndpoint } from '../../core/wire/transport-frames.ts'

/** Largest message the server sends over a WebSocket (snapshots are far smaller). */
const MAX_OUTGOING_BYTES = 256 * 1024

/** The ticket carried in `Sec-WebSocket-Protocol`, or undefined when there is none. */
export function ticketFromProtocols(header: string | undefined): string | undefined {
  if (!header) return undefined
  for (const raw of header.split(',')) {
    const protocol = raw.trim()
    if (protocol.startsWith(WebSocketEndpoint.TICKET_PREFIX)) {
      const ticket = protocol.slice(WebSocketEndpoint.TICKET_PREFIX.length)
      return ticket.length > 0 ? ticket : undefined
    }
  }
  return undefined
}

/** True when `req` asks for the transport's WebSocket endpoint. */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?')[0]
  return path === WebSocketEndpoint.PATH && (req.headers.upgrade ?? '').toLowerCase() === 'websocket'
}

/**
 * A `ws` server that only completes upgrades handed to it (no port of its own). Incoming messages
 * larger than `maxIncomingBytes` end the socket with 1009 before they are buffered whole; smaller
 * oversize messages reach the connection's limits and count as violations, as on a data channel.
 */
export function createWebSocketServer(maxIncomingBytes: number): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload: Math.max(4 * maxIncomingBytes, 16 * 1024),
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(WebSocketEndpoint.PROTOCOL) ? WebSocketEndpoint.PROTOCOL : false),
  })
}

/** Completes the upgrade; resolves with the socket (or undefined when the client went away). */
export function completeUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket | undefined> {
  if (socket.destroyed) return Promise.resolve(undefined)
  return new Promise((resolve) => {
    socket.once('close', () => resolve(undefined))
    wss.handleUpgrade(req, socket, head, (ws) => resolve(ws))
  })
}

/** Upgrades only to tell the client why it is refused: close code 4000 + `status`. */
export async function refuseUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, status: number, code: string): Promise<void> {
  const ws = await completeUpgrade(wss, req, socket, head)
  if (!ws) return
  ws.on('error', () => {})
  ws.close(WebSocketEndpoint.REFUSED_BASE + status, code.slice(0, 100))
  setTimeout(() => ws.terminate(), 1000).unref()
}

/** A WebSocket seen through the data-channel interface `ChannelClientConnection` drives. */
export function webSocketChannel(ws: WebSocket): NativeDataChannel {
  // A socket error is always followed by 'close', which the connection handles.
  ws.on('error', () => {})
  return {
    sendMessageBinary(buffer) {
      ws.send(buffer, { binary: true })
      return true
    },
    isOpen: () => ws.readyState === WebSocket.OPEN,
    bufferedAmount: () => ws.bufferedAmount,
    maxMessageSize: () => MAX_OUTGOING_BYTES,
    onMessage(cb) {
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          cb(String(data))
          return
        }
        // `ws` hands out a Buffer, or fragments as Buffer[] / ArrayBuffer per binaryType (default Buffer).
        cb(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer | ArrayBuffer))
      })
    },
    onClosed(cb) {
      ws.on('close', () => cb())
    },
  }
}

/** Closes a socket politely, and for good after `graceMs` when the client does not answer. */
export function closeWebSocket(ws: WebSocket, graceMs: number): void {
  if (ws.readyState === WebSocket.CLOSED) return
  try {
    ws.close(1000)
  } catch {
    ws.terminate()
    return
  }
  setTimeout(() => ws.terminate(), graceMs).unref()
}
