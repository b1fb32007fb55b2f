/**
 * Node only: gives `@geckos.io/client` the WebRTC globals a browser has, from node-datachannel's
 * polyfill. Call `installNodeWebRTC()` before the first `connect()`; `connect` imports the geckos
 * client lazily, after the globals exist. `installNodeWebSocket()` does the same for the WebSocket
 * fallback where Node has no global `WebSocket` (before 22). Browser bundles must not import this file.
 */
import http from 'node:http'
import https from 'node:https'
import { WebSocket as NodeWebSocket } from 'ws'
import type { GatewayFetch } from './gateway-api.ts'
import {
  RTCIceCandidate,
  RTCPeerConnection as PolyfillPeerConnection,
  RTCSessionDescription,
} from 'node-datachannel/polyfill'

/**
 * geckos' client keeps fetching the server's ICE candidates on a back-off schedule for ~10 s and
 * adds each one without awaiting. Once the peer connection is closed the polyfill rejects with
 * `addRemoteCandidate() called on destroyed peer connection`, and in Node an unhandled rejection
 * ends the process. Late candidates for a closed connection are meaningless, so only that case is
 * ignored; every other error still rejects.
 */
class TesseraRTCPeerConnection extends PolyfillPeerConnection {
  override async addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    try {
      await super.addIceCandidate(candidate ?? undefined)
    } catch (err) {
      if (err instanceof Error && /destroyed peer connection/.test(err.message)) return
      throw err
    }
  }
}

/** Installs RTCPeerConnection, RTCSessionDescription and RTCIceCandidate on globalThis (idempotent). */
export function installNodeWebRTC(): void {
  const g = globalThis as Record<string, unknown>
  if (g['RTCPeerConnection'] === TesseraRTCPeerConnection) return
  Object.assign(g, {
    RTCPeerConnection: TesseraRTCPeerConnection,
    RTCSessionDescription,
    RTCIceCandidate,
  })
}

/** Installs `ws`'s browser-compatible WebSocket on globalThis when Node has none (idempotent). */
export function installNodeWebSocket(): void {
  const g = globalThis as Record<string, unknown>
  if (typeof g['WebSocket'] === 'undefined') g['WebSocket'] = NodeWebSocket
}

const keepAlive = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }

/**
 * The gateway calls over `node:http` with keep-alive connections, for many players in one Node
 * process (bots, load tests): Node's built-in `fetch` spends ~2 ms of CPU per request on its
 * web-streams machinery here, this ~0.3 ms. Pass it as the `fetch` of the gateway options.
 */
export const nodeHttpFetch: GatewayFetch = (url, init) =>
  new Promise((resolve, reject) => {
    const target = new URL(url)
    const secure = target.protocol === 'https:'
    const body = Buffer.from(init.body)
    const req = (secure ? https : http).request(
      target,
      { method: init.method, headers: { ...init.headers, 'content-length': String(body.length) }, agent: secure ? keepAlive.https : keepAlive.http, signal: init.signal },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          const status = res.statusCode ?? 0
          resolve({ ok: status >= 200 && status < 300, status, json: async () => JSON.parse(text) as unknown })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
