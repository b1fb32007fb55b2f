/**
 * The neighbour links' gRPC server widens its HTTP/2 receive windows (per stream, in its SETTINGS,
 * and per connection) beyond Node's 64 KB. grpc-js's server has no option for it, so `core/grpc.ts`
 * reaches into grpc-js's own Node HTTP/2 servers: this checks, from a plain HTTP/2 client, that it
 * still does (a grpc-js upgrade that moved them would make it fail here rather than quietly stall
 * crowded borders).
 */
import { connect } from 'node:http2'
import type { ClientHttp2Session, Settings } from 'node:http2'
import { afterEach, describe, expect, it } from 'vitest'
import { startGrpcServer } from '../../core/grpc.ts'
import type { RunningGrpcServer } from '../../core/grpc.ts'
import { eventually } from '../helpers/eventually.ts'

const WINDOW = 4 * 1024 * 1024

async function peerWindows(port: number): Promise<{ stream: number | undefined; connection: number }> {
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`)
  try {
    const settings = await new Promise<Settings>((resolve, reject) => {
      session.once('remoteSettings', resolve)
      session.once('error', reject)
    })
    // The connection window arrives as a WINDOW_UPDATE after the SETTINGS: wait for it briefly.
    await eventually('connection window', () => (session.state.remoteWindowSize ?? 0) > 65_535, 1_000).catch(() => undefined)
    return { stream: settings.initialWindowSize, connection: session.state.remoteWindowSize ?? 0 }
  } finally {
    session.destroy()
  }
}

describe('gRPC server receive windows', () => {
  let server: RunningGrpcServer | undefined

  afterEach(async () => {
    await server?.stop(100)
    server = undefined
  })

  it('are widened per stream and per connection when asked', async () => {
    server = await startGrpcServer('127.0.0.1', 0, [], { flowControlWindow: WINDOW })
    const w = await peerWindows(server.port)
    expect(w.stream).toBe(WINDOW)
    expect(w.connection).toBe(WINDOW)
  })

  it("stay at Node's defaults otherwise", async () => {
    server = await startGrpcServer('127.0.0.1', 0, [])
    const w = await peerWindows(server.port)
    expect(w.stream ?? 65_535).toBe(65_535)
    expect(w.connection).toBe(65_535)
  })
})
