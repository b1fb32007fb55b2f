/**
 * The player library's public entry (browser and Node). In Node, call `installNodeWebRTC()` (and,
 * for the WebSocket transport before Node 22, `installNodeWebSocket()`) from
 * `client/polyfill-node.ts` before joining; browser bundles must not import that file.
 */
export { TesseraClient, TesseraClientError } from './client.ts'
export type { ClientMigrated, ClientState, ClientStats, GrantSource, TesseraClientEvents, TesseraClientOptions } from './client.ts'
export type { PlayerInput } from './session.ts'
export type { EntityView } from './entity-set.ts'
export { GatewayError, requestGrant } from './gateway-api.ts'
export type { GatewayGrant, GatewayOptions, Grant, JoinTarget } from './gateway-api.ts'
export { ConnectError, connect } from './connection.ts'
export { connectWebSocket } from './websocket-connection.ts'
export type { TransportKind } from './transports.ts'
export type { Connection, ConnectOptions, ConnectionCloseReason } from './connection.ts'
export { defaultBackoff } from './reconnect.ts'
export type { BackoffOptions } from './reconnect.ts'
export type { ControlMessage, JoinAccepted, Migrate } from '../core/wire/control-messages.ts'
export { Protocol } from '../core/wire/protocol.ts'
