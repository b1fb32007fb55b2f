/**
 * Which transport the player library opens: WebRTC data channels (geckos.io, the default:
 * unreliable and unordered, so a lost snapshot never delays the next), the WebSocket fallback, or
 * `auto`: WebRTC first, and WebSocket from then on once WebRTC could not connect (UDP blocked, no
 * usable ICE candidate). A refused ticket is final under every choice.
 */
import { ConnectError, connect as connectWebRTC } from './connection.ts'
import type { ConnectOptions, Connection } from './connection.ts'
import { connectWebSocket } from './websocket-connection.ts'

export type TransportKind = 'webrtc' | 'websocket' | 'auto'

/** How long `auto` gives WebRTC before it falls back (connects take ~0.15 s, rarely 1 s). */
export const AUTO_WEBRTC_TIMEOUT_MS = 5000

type Connect = (options: ConnectOptions) => Promise<Connection>

/** The connect function for `kind`; `using` replaces the two transports (tests). */
export function connector(kind: TransportKind, using: { webrtc?: Connect; websocket?: Connect } = {}): Connect {
  const webrtc = using.webrtc ?? connectWebRTC
  const websocket = using.websocket ?? connectWebSocket
  if (kind === 'webrtc') return webrtc
  if (kind === 'websocket') return websocket
  let fallback = false
  return async (options) => {
    if (!fallback) {
      try {
        return await webrtc({ ...options, timeoutMs: Math.min(options.timeoutMs ?? AUTO_WEBRTC_TIMEOUT_MS, AUTO_WEBRTC_TIMEOUT_MS) })
      } catch (err) {
        if (err instanceof ConnectError && err.code === 'refused') throw err
        fallback = true
      }
    }
    return websocket(options)
  }
}
