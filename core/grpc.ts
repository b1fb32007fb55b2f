/**
 * gRPC plumbing shared by every service: starting and stopping a server, and mapping our errors to
 * gRPC statuses in one place (so a client can tell "retry" from "give up" the same way everywhere).
 */
import { Server, ServerCredentials, status } from '@grpc/grpc-js'
import type { ServiceDefinition, UntypedServiceImplementation, ServiceError } from '@grpc/grpc-js'
import type { Http2Server, ServerHttp2Session } from 'node:http2'

export interface RunningGrpcServer {
  server: Server
  /** host:port actually bound (the port is real even when 0 was asked). */
  address: string
  port: number
  /** Graceful stop, then a forced one after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

export interface GrpcServerOptions {
  /**
   * HTTP/2 receive window in bytes, per stream and per connection, for streams that carry a lot
   * (neighbour links). Node's default is 64 KB and grpc-js's server has no option for it (its
   * client has `grpc-node.flow_control_window`).
   */
  flowControlWindow?: number
  /** Largest message the server takes, in bytes (grpc-js's default is 4 MB). */
  maxReceiveMessageBytes?: number
}

export async function startGrpcServer(
  host: string,
  port: number,
  services: readonly { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[],
  options: GrpcServerOptions = {},
): Promise<RunningGrpcServer> {
  const server = new Server({
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    ...(options.maxReceiveMessageBytes !== undefined ? { 'grpc.max_receive_message_length': options.maxReceiveMessageBytes } : {}),
  })
  for (const s of services) server.addService(s.definition, s.implementation)
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)))
  })
  if (options.flowControlWindow !== undefined) widenWindows(server, options.flowControlWindow)
  return {
    server,
    address: `${host}:${bound}`,
    port: bound,
    stop: (graceMs = 2_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown()
          resolve()
        }, graceMs)
        server.tryShutdown(() => {
          clearTimeout(force)
          resolve()
        })
      }),
  }
}

/**
 * Raise the receive windows of a grpc-js server's HTTP/2 sessions: the per-stream initial window in
 * its SETTINGS, and each new session's connection window. grpc-js keeps its Node HTTP/2 servers in
 * a private map; when that is not there (another grpc-js version) this does nothing.
 */
function widenWindows(server: Server, bytes: number): void {
  const internals = server as unknown as { http2Servers?: Map<Http2Server, unknown> }
  for (const h2 of internals.http2Servers?.keys() ?? []) {
    h2.updateSettings({ initialWindowSize: bytes })
    h2.on('session', (session: ServerHttp2Session) => session.setLocalWindowSize(bytes))
  }
}

/** Errors that carry a stable code and a retryable flag (store errors, our named errors). */
interface CodedError {
  code?: unknown
  retryable?: unknown
  message: string
}

/** Our error → a gRPC error with the right status. Retryable errors become UNAVAILABLE. */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & CodedError
  let code: status = status.INTERNAL
  if (e.retryable === true) code = status.UNAVAILABLE
  else if (e.code === 'not_found') code = status.NOT_FOUND
  else if (e.code === 'conflict') code = status.ABORTED
  else if (e.code === 'bad_request' || e.code === 'bad_record') code = status.INVALID_ARGUMENT
  else if (e.code === 'no_capacity') code = status.RESOURCE_EXHAUSTED
  else if (e.code === 'not_leader') code = status.FAILED_PRECONDITION
  return { code, details: e.message, message: e.message, name: e.name }
}

/** Whether a gRPC error from a call is worth retrying (the peer is down or restarting). */
export function isRetryableGrpcError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED || code === status.RESOURCE_EXHAUSTED
}
