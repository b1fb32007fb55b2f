/**
 * The process's one client transport: a geckos.io server on our own HTTP server, with tickets
 * checked before a peer connection exists, each channel routed to the in-process worker named by
 * its ticket, per-client limits, application heartbeats, and robust teardown. The same HTTP server
 * takes WebSocket upgrades at `/.tessera/ws` for clients without WebRTC (`websocket.ts`); both kinds
 * of channel share the routes, limits, heartbeats and stats.
 *
 * geckos.io facts this design follows (see shared STACK.md): one geckos server per process (its
 * event bridge is global), `addServer` on our own `http.Server`, all peers multiplexed on one
 * pinned UDP port, no connect or liveness timeouts of its own, and callbacks that abort the process
 * when they throw (guarded in `native-guard.ts`). Raw binary is the only accepted message form:
 * each channel's native `onMessage` is replaced so geckos' JSON event parser never sees client input.
 *
 * Wire reservation: first bytes 0xF0–0xFF are transport frames (see `frames.ts`); everything else
 * goes to the route handler untouched.
 */
import http from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import geckos from '@geckos.io/server'
import type { GeckosServer, ServerChannel } from '@geckos.io/server'
import type { Registry } from 'prom-client'
import type { Logger } from '../../core/log.ts'
import { silentLogger } from '../../core/log.ts'
import type { ClientConnection, NativeDataChannel, RouteHandler } from './client-connection.ts'
import { ChannelClientConnection } from './client-connection.ts'
import type { ClientLimits } from './limits.ts'
import { resolveLimits } from './limits.ts'
import { installNativeGuard } from './native-guard.ts'
import type { CloseReason, TransportStats } from './stats.ts'
import { bump, emptyStats, registerTransportMetrics } from './stats.ts'
import { pickFreeUdpPort } from './udp-port.ts'
import { TransportCloseCode, encodeAccept } from '../../core/wire/transport-frames.ts'
import type { WebSocket, WebSocketServer } from 'ws'
import { closeWebSocket, completeUpgrade, createWebSocketServer, isWebSocketRequest, refuseUpgrade, ticketFromProtocols, webSocketChannel } from './websocket.ts'

export type { ClientConnection, RouteHandler } from './client-connection.ts'
export type { ClientLimits } from './limits.ts'
export type { CloseReason, DropKind, TransportStats } from './stats.ts'
export { TransportCloseCode, TransportOp, TRANSPORT_RESERVED_MIN } from '../../core/wire/transport-frames.ts'

/** The verdict of `authorize` on one connection attempt. */
export type AuthResult<P extends object> =
  | { ok: true; route: string; principal: P }
  | { ok: false; status: 401 | 403; code: string }

/** Checks a client's token (the ticket after `Bearer `) before any peer connection is created. */
export type Authorize<P extends object> = (token: string, req: IncomingMessage) => Promise<AuthResult<P>>

export interface ClientTransportOptions<P extends object> {
  authorize: Authorize<P>
  /** HTTP (signalling) listen address. Default `127.0.0.1`. */
  host?: string
  /** HTTP port; 0 picks a free one (read `port` after `start`). Default 0. */
  port?: number
  /** The one UDP port all peers share; 0 or undefined picks a free one. */
  udpPort?: number
  /** Local address for ICE candidates. Default: `host`, unless that is a wildcard address. */
  bindAddress?: string
  /** ICE servers offered to peers. Default none (host candidates only). */
  iceServers?: RTCIceServer[]
  /** CORS origin for the signalling routes. Default `*`. */
  corsOrigin?: string
  limits?: Partial<ClientLimits>
  /** Ping interval. Default 1000 ms. */
  heartbeatIntervalMs?: number
  /** A client silent this long is closed with reason `timeout`. Default 5000 ms. */
  heartbeatTimeoutMs?: number
  /** A peer connection that has not opened its channel after this long is torn down. Default 10000 ms. */
  handshakeTimeoutMs?: number
  /** How long `close()` waits for peers to go before closing HTTP anyway. Default 3000 ms. */
  closeTimeoutMs?: number
  /** Outgoing messages are dropped while more than this many bytes are buffered. Default 65536. */
  maxBufferedBytes?: number
  logger?: Logger
  /** When given, `tessera_transport_*` metrics are registered here. */
  registry?: Registry
}

/** Error with a stable code, for transport setup failures. */
export class TransportError extends Error {
  constructor(
    readonly code: 'already-running' | 'bad-options' | 'listen-failed',
    message: string,
  ) {
    super(message)
    this.name = 'TransportError'
  }
}

/** What travels in geckos' userData (echoed to the client: no secrets). */
interface Admission<P extends object> {
  route: string
  principal: P
}

/** The geckos internals touched here, typed once. */
interface GeckosPeer {
  close(): Promise<void>
}
interface GeckosInternals {
  connectionsManager: { connections: Map<string | undefined, GeckosPeer> }
}

let running = false

export class ClientTransport<P extends object = Record<string, unknown>> {
  private readonly io: GeckosServer
  private readonly peers: GeckosInternals['connectionsManager']['connections']
  private readonly handlers = new Map<string, RouteHandler<P>>()
  private readonly conns = new Map<string, ChannelClientConnection<P>>()
  private readonly pendingSince = new Map<string, number>()
  private readonly wss: WebSocketServer
  private readonly sockets = new Map<string, WebSocket>()
  private nextSocketId = 1
  private readonly limits: ClientLimits
  private readonly logger: Logger
  private readonly removeGuardSink: () => void
  private heartbeatTimer: NodeJS.Timeout | undefined
  private closing: Promise<void> | undefined
  /** Live counters (mutated in place). */
  readonly stats: TransportStats = emptyStats()

  private constructor(
    private readonly options: ClientTransportOptions<P>,
    private readonly httpServer: http.Server,
    /** The bound HTTP (signalling) port. */
    readonly port: number,
    /** The UDP port every peer connection uses. */
    readonly udpPort: number,
    /** The HTTP host clients connect to. */
    readonly host: string,
  ) {
    this.logger = options.logger ?? silentLogger()
    this.limits = resolveLimits(options.limits)
    this.removeGuardSink = installNativeGuard((where, err) => {
      this.stats.callbackErrors++
      this.logger.debug({ err, where }, 'caught exception in a native transport callback')
    })
    this.io = geckos({
      authorization: (auth: string | undefined, req: IncomingMessage) => this.admit(auth, req),
      portRange: { min: udpPort, max: udpPort },
      multiplex: true,
      iceServers: options.iceServers ?? [],
      bindAddress: options.bindAddress ?? (isWildcard(host) ? undefined : host),
      cors: { origin: options.corsOrigin ?? '*', allowAuthorization: true },
    })
    this.peers = (this.io as unknown as GeckosInternals).connectionsManager.connections
    // geckos' addServer also hooks the HTTP server's 'close' to call node-datachannel's cleanup(),
    // which is process-wide: it cancels every native callback still queued, including those of
    // other peer connections in the process, and a cancelled callback aborts (SIGABRT). Peers are
    // closed in order by `close()` instead, so that hook is removed.
    const closeListeners = new Set(httpServer.listeners('close'))
    this.io.addServer(httpServer)
    for (const listener of httpServer.listeners('close')) {
      if (!closeListeners.has(listener)) httpServer.off('close', listener as (...args: unknown[]) => void)
    }
    this.io.onConnection((channel) => this.accept(channel))
    this.wss = createWebSocketServer(this.limits.maxMessageBytes)
    httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((err: unknown) => {
        this.logger.warn({ err }, 'websocket upgrade failed')
        socket.destroy()
      })
    })
    if (options.registry) {
      registerTransportMetrics(options.registry, this.stats, () => {
        let websocket = 0
        for (const id of this.conns.keys()) if (this.sockets.has(id)) websocket++
        return { webrtc: this.conns.size - websocket, websocket }
      })
    }
    const interval = options.heartbeatIntervalMs ?? 1000
    this.heartbeatTimer = setInterval(() => this.heartbeat(), interval)
    this.heartbeatTimer.unref()
  }

  /** Starts the one transport of this process: listens on HTTP and pins the UDP port. */
  static async start<P extends object = Record<string, unknown>>(options: ClientTransportOptions<P>): Promise<ClientTransport<P>> {
    if (running) throw new TransportError('already-running', 'one geckos.io transport per process (its event bridge is global)')
    resolveLimits(options.limits)
    for (const key of ['heartbeatIntervalMs', 'heartbeatTimeoutMs', 'handshakeTimeoutMs', 'closeTimeoutMs', 'maxBufferedBytes'] as const) {
      const value = options[key]
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
        throw new TransportError('bad-options', `${key} must be a positive number, got ${value}`)
      }
    }
    const host = options.host ?? '127.0.0.1'
    running = true
    try {
      const udpPort = options.udpPort ? options.udpPort : await pickFreeUdpPort(host)
      if (udpPort < 1025 || udpPort > 65535) throw new TransportError('bad-options', `udpPort must be 1025–65535, got ${udpPort}`)
      const httpServer = http.createServer()
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', (err) => reject(new TransportError('listen-failed', err.message)))
        httpServer.listen(options.port ?? 0, host, () => resolve())
      })
      const port = (httpServer.address() as AddressInfo).port
      return new ClientTransport(options, httpServer, port, udpPort, host)
    } catch (err) {
      running = false
      throw err
    }
  }

  /** `http://host` for clients (pass `port` separately, as geckos' client does). */
  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}`
  }

  /** Open client channels. */
  get connectionCount(): number {
    return this.conns.size
  }

  /** Routes channels whose ticket names `workerId` to `handler`. Returns a function that unroutes. */
  route(workerId: string, handler: RouteHandler<P>): () => void {
    if (this.handlers.has(workerId)) throw new TransportError('bad-options', `route ${workerId} is already registered`)
    this.handlers.set(workerId, handler)
    return () => this.unroute(workerId)
  }

  /** Forgets a route and closes its clients (reason `no-route`). */
  unroute(workerId: string): void {
    this.handlers.delete(workerId)
    for (const conn of [...this.conns.values()]) if (conn.route === workerId) conn.end('no-route', TransportCloseCode.NO_ROUTE)
  }

  /** The open connections, optionally of one route. */
  connections(route?: string): ClientConnection<P>[] {
    const all = [...this.conns.values()]
    return route === undefined ? all : all.filter((c) => c.route === route)
  }

  /**
   * Closes every client (telling each `1001`), waits (bounded) until geckos has let go of every peer,
   * then closes HTTP. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
    for (const conn of [...this.conns.values()]) conn.end('shutdown', TransportCloseCode.SHUTDOWN)
    for (const id of [...this.peers.keys()]) if (id !== undefined && !this.conns.has(id)) this.teardown(id)
    const deadline = performance.now() + (this.options.closeTimeoutMs ?? 3000)
    while (this.peers.size > 0 && performance.now() < deadline) await delay(20)
    if (this.peers.size > 0) this.logger.warn({ peers: this.peers.size }, 'peers still open at transport close')
    // Upgraded sockets are no longer the HTTP server's: end them here.
    for (const ws of this.sockets.values()) ws.terminate()
    this.sockets.clear()
    this.wss.close()
    this.httpServer.closeAllConnections()
    await new Promise<void>((resolve) => this.httpServer.close(() => resolve()))
    this.removeGuardSink()
    running = false
  }

  /** geckos.io's authorization hook: the admission, or the HTTP status that refuses it. */
  private async admit(auth: string | undefined, req: IncomingMessage): Promise<Admission<P> | number> {
    const match = typeof auth === 'string' ? /^Bearer (\S+)$/.exec(auth) : null
    const verdict = await this.check(match?.[1], req)
    return 'status' in verdict ? verdict.status : verdict
  }

  /** Checks a ticket for either kind of channel; refusals are counted and logged here. */
  private async check(token: string | undefined, req: IncomingMessage): Promise<Admission<P> | { status: number; code: string }> {
    const refuse = (status: number, code: string): { status: number; code: string } => {
      bump(this.stats.refusals, code)
      this.logger.debug({ status, code }, 'connection refused')
      return { status, code }
    }
    if (this.closing) return refuse(503, 'shutting-down')
    if (token === undefined) return refuse(401, 'missing-token')
    let verdict: AuthResult<P>
    try {
      verdict = await this.options.authorize(token, req)
    } catch (err) {
      this.logger.warn({ err }, 'authorize threw')
      return refuse(500, 'authorize-error')
    }
    if (!verdict.ok) return refuse(verdict.status, verdict.code)
    if (!this.handlers.has(verdict.route)) return refuse(503, 'no-route')
    return { route: verdict.route, principal: verdict.principal }
  }

  /** A WebSocket upgrade: ticket first, then the upgrade, ACCEPT, and the route's handler. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (!isWebSocketRequest(req)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    socket.on('error', () => socket.destroy())
    const verdict = await this.check(ticketFromProtocols(req.headers['sec-websocket-protocol']), req)
    if ('status' in verdict) {
      await refuseUpgrade(this.wss, req, socket, head, verdict.status, verdict.code)
      return
    }
    const ws = await completeUpgrade(this.wss, req, socket, head)
    if (!ws) return // the client vanished during the check
    const id = `ws-${this.nextSocketId++}`
    this.sockets.set(id, ws)
    ws.once('close', () => this.sockets.delete(id))
    if (this.closing) {
      this.teardown(id)
      return
    }
    const conn = this.open(id, verdict, webSocketChannel(ws))
    ws.send(encodeAccept(id, verdict), { binary: true })
    this.dispatch(conn)
  }

  /** Runs inside node-datachannel's onOpen (guarded): must be quick and must not throw. */
  private accept(channel: ServerChannel): void {
    const id = channel.id
    // geckos' connection event is process-global: ignore channels of another (closed) server.
    if (id === undefined || !this.peers.has(id)) return
    this.pendingSince.delete(id)
    const dc = channel.dataChannel as unknown as NativeDataChannel | null
    if (!dc || this.closing) {
      setTimeout(() => this.teardown(id), 0)
      return
    }
    const conn = this.open(id, channel.userData as Admission<P>, dc)
    channel.onDisconnect((state) => conn.end(state === 'failed' ? 'network' : 'client-closed'))
    this.dispatch(conn)
  }

  /** Wraps an admitted channel of either kind and starts reading it. */
  private open(id: string, { route, principal }: Admission<P>, dc: NativeDataChannel): ChannelClientConnection<P> {
    const conn = new ChannelClientConnection<P>(id, route, principal, dc, {
      limits: this.limits,
      stats: this.stats,
      logger: this.logger,
      maxBufferedBytes: this.options.maxBufferedBytes ?? 65536,
      closeGraceMs: 20,
      now: () => performance.now(),
      teardown: (peerId) => this.teardown(peerId),
      forget: (peerId, reason) => this.forget(peerId, reason),
    })
    this.conns.set(id, conn)
    this.stats.connects++
    // Replace geckos' parser: raw bytes go straight to our limits; text never reaches JSON.parse.
    dc.onMessage((msg) => conn.receive(msg))
    dc.onClosed(() => conn.end('client-closed'))
    return conn
  }

  /** Hands a new connection to its route's handler (closing it when the route is gone). */
  private dispatch(conn: ChannelClientConnection<P>): void {
    const route = conn.route
    const handler = this.handlers.get(route)
    if (!handler) {
      conn.end('no-route', TransportCloseCode.NO_ROUTE)
      return
    }
    try {
      handler.onConnect(conn)
    } catch (err) {
      this.stats.handlerErrors++
      this.logger.warn({ err, route }, 'route handler threw in onConnect')
      conn.end('handler-error', TransportCloseCode.HANDLER_ERROR)
    }
  }

  private forget(id: string, reason: CloseReason): void {
    this.conns.delete(id)
    this.logger.debug({ conn: id, reason }, 'client disconnected')
  }

  /** Closes geckos' peer (or the WebSocket) for `id`; never throws, never leaves a rejection unhandled. */
  private teardown(id: string): void {
    const ws = this.sockets.get(id)
    if (ws) {
      this.sockets.delete(id)
      closeWebSocket(ws, 1000)
      return
    }
    const peer = this.peers.get(id)
    if (!peer) return
    try {
      peer.close().catch((err: unknown) => this.logger.debug({ err, conn: id }, 'peer close failed'))
    } catch (err) {
      this.logger.debug({ err, conn: id }, 'peer close threw')
    }
  }

  private heartbeat(): void {
    const now = performance.now()
    const timeoutMs = this.options.heartbeatTimeoutMs ?? 5000
    for (const conn of [...this.conns.values()]) conn.heartbeat(now, timeoutMs)
    // Peers that were answered but never opened a channel (client vanished mid-handshake).
    const handshakeMs = this.options.handshakeTimeoutMs ?? 10_000
    for (const id of this.peers.keys()) {
      if (id === undefined || this.conns.has(id)) continue
      const since = this.pendingSince.get(id)
      if (since === undefined) this.pendingSince.set(id, now)
      else if (now - since > handshakeMs) {
        this.pendingSince.delete(id)
        this.stats.handshakeTimeouts++
        this.teardown(id)
      }
    }
    for (const id of this.pendingSince.keys()) if (!this.peers.has(id)) this.pendingSince.delete(id)
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === ''
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
