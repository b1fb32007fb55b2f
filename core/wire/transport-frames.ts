/**
 * Transport-level frames carried on the same channel as the game's own messages: a geckos.io data
 * channel, or a WebSocket for players whose network blocks WebRTC.
 *
 * Reservation: a raw message whose first byte is in 0xF0–0xFF belongs to the transport and is never
 * passed to the game; every other first byte is the game protocol's (`protocol.ts`). Neither side
 * sends a game message starting with a reserved byte (`sendRaw` refuses them). Shared by the
 * worker's transport and the player library's connection.
 *
 * Layouts (little-endian):
 * - PING  `F0 n0 n1 n2 n3`  nonce u32; the peer answers with PONG carrying the same nonce.
 * - PONG  `F1 n0 n1 n2 n3`
 * - CLOSE `F2 c0 c1`        close code u16, sent (unreliably) just before a deliberate close.
 * - ACCEPT `F3 json…`       WebSocket only, the first message on an admitted socket: UTF-8 JSON
 *                           `{"id": channel id, "userData": what the admission returned}` (route
 *                           and principal, as geckos.io's userData).
 */

export const TransportOp = {
  PING: 0xf0,
  PONG: 0xf1,
  CLOSE: 0xf2,
  ACCEPT: 0xf3,
} as const

/** Lowest first byte reserved for transport frames. */
export const TRANSPORT_RESERVED_MIN = 0xf0

/** Close codes the transport itself uses; handlers may pass any other u16 to `close(code)`. */
export const TransportCloseCode = {
  NORMAL: 1000,
  SHUTDOWN: 1001,
  HANDLER_ERROR: 1011,
  TIMEOUT: 4001,
  ABUSE: 4002,
  NO_ROUTE: 4003,
} as const

/**
 * The WebSocket fallback. Browsers cannot set headers on a WebSocket, so the ticket travels as a
 * subprotocol (`tessera.ticket.<jwt>`: a JWT's characters are all valid there) beside the protocol
 * name the server answers with. A refused ticket is told with close code 4000 + the HTTP status the
 * geckos.io signalling would have answered (4401, 4403, 4503), which browsers do expose.
 */
export const WebSocketEndpoint = {
  PATH: '/.tessera/ws',
  PROTOCOL: 'tessera.v1',
  TICKET_PREFIX: 'tessera.ticket.',
  REFUSED_BASE: 4000,
} as const

export function isTransportFrame(bytes: Uint8Array): boolean {
  return bytes.length > 0 && (bytes[0] as number) >= TRANSPORT_RESERVED_MIN
}

export function encodePing(nonce: number): Uint8Array {
  return encodeNonceFrame(TransportOp.PING, nonce)
}

export function encodePong(nonce: number): Uint8Array {
  return encodeNonceFrame(TransportOp.PONG, nonce)
}

export function encodeClose(code: number): Uint8Array {
  const out = new Uint8Array(3)
  out[0] = TransportOp.CLOSE
  new DataView(out.buffer).setUint16(1, code & 0xffff, true)
  return out
}

/** Reads the nonce of a PING/PONG frame, or undefined when the frame is too short. */
export function readNonce(bytes: Uint8Array): number | undefined {
  if (bytes.length < 5) return undefined
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1, true)
}

/** Reads the code of a CLOSE frame, or undefined when the frame is too short. */
export function readCloseCode(bytes: Uint8Array): number | undefined {
  if (bytes.length < 3) return undefined
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(1, true)
}

export function encodeAccept(id: string, userData: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ id, userData }))
  const out = new Uint8Array(json.length + 1)
  out[0] = TransportOp.ACCEPT
  out.set(json, 1)
  return out
}

/** Reads the JSON of an ACCEPT frame; undefined when it is not valid JSON. */
export function readAccept(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes.subarray(1))) as unknown
  } catch {
    return undefined
  }
}

function encodeNonceFrame(op: number, nonce: number): Uint8Array {
  const out = new Uint8Array(5)
  out[0] = op
  new DataView(out.buffer).setUint32(1, nonce >>> 0, true)
  return out
}
