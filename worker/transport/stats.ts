/**
 * Counters of the client transport: a plain object the transport updates in place (cheap on the
 * hot path), and an optional bridge that exposes it through a prom-client Registry.
 */
import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'

/** Why a client connection ended. */
export type CloseReason =
  | 'client-closed' // the client said goodbye or closed its peer connection
  | 'network' // the peer connection failed or disconnected
  | 'timeout' // no traffic from the client within the heartbeat timeout
  | 'abuse' // too many oversized, malformed or over-rate messages
  | 'no-route' // no handler for the ticket's worker (any more)
  | 'server-closed' // a handler called `close(code)`
  | 'handler-error' // the route handler threw in onConnect
  | 'shutdown' // the transport is closing

export type DropKind = 'oversize' | 'rate' | 'malformed' | 'out-buffered' | 'out-too-large' | 'out-reserved' | 'out-closed'

export interface TransportStats {
  connects: number
  /** Refused connection attempts by refusal code (e.g. `bad-ticket`, `missing-token`). */
  refusals: Record<string, number>
  disconnects: Partial<Record<CloseReason, number>>
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  drops: Partial<Record<DropKind, number>>
  /** Peer connections that never opened a channel within the handshake timeout. */
  handshakeTimeouts: number
  /** Exceptions caught in geckos.io / node-datachannel callbacks (each would have aborted the process). */
  callbackErrors: number
  /** Exceptions thrown by route handlers' callbacks. */
  handlerErrors: number
}

export function emptyStats(): TransportStats {
  return {
    connects: 0,
    refusals: {},
    disconnects: {},
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    drops: {},
    handshakeTimeouts: 0,
    callbackErrors: 0,
    handlerErrors: 0,
  }
}

export function bump<K extends string>(record: Partial<Record<K, number>>, key: K, by = 1): void {
  record[key] = (record[key] ?? 0) + by
}

/**
 * Registers `tessera_transport_*` metrics in `registry`, read from `stats` at scrape time, plus the
 * current connection counts from `connections()` by kind of channel.
 */
export function registerTransportMetrics(registry: Registry, stats: TransportStats, connections: () => { webrtc: number; websocket: number }): void {
  const simple = (name: string, help: string, read: () => number): void => {
    new Counter({
      name: `tessera_transport_${name}`,
      help,
      registers: [registry],
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  }
  const labelled = (name: string, help: string, label: string, read: () => Record<string, number | undefined>): void => {
    new Counter({
      name: `tessera_transport_${name}`,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset()
        for (const [key, value] of Object.entries(read())) this.inc({ [label]: key }, value ?? 0)
      },
    })
  }
  simple('connects_total', 'Client channels opened', () => stats.connects)
  labelled('refusals_total', 'Connection attempts refused, by code', 'code', () => stats.refusals)
  labelled('disconnects_total', 'Client channels closed, by reason', 'reason', () => stats.disconnects)
  simple('messages_in_total', 'Raw messages received from clients', () => stats.messagesIn)
  simple('messages_out_total', 'Raw messages sent to clients', () => stats.messagesOut)
  simple('bytes_in_total', 'Bytes received from clients', () => stats.bytesIn)
  simple('bytes_out_total', 'Bytes sent to clients', () => stats.bytesOut)
  labelled('drops_total', 'Messages dropped, by kind', 'kind', () => stats.drops)
  simple('handshake_timeouts_total', 'Peer connections that never opened a channel', () => stats.handshakeTimeouts)
  simple('callback_errors_total', 'Exceptions caught in native transport callbacks', () => stats.callbackErrors)
  simple('handler_errors_total', 'Exceptions thrown by route handlers', () => stats.handlerErrors)
  new Gauge({
    name: 'tessera_transport_connections',
    help: 'Open client channels, by kind (webrtc data channels, websocket fallback)',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const open = connections()
      this.set({ kind: 'webrtc' }, open.webrtc)
      this.set({ kind: 'websocket' }, open.websocket)
    },
  })
}
