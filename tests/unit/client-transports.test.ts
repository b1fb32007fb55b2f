/** The player library's transport choice: `auto` falls back to WebSocket for good, never on a refusal. */
import { describe, expect, it } from 'vitest'
import { ConnectError } from '../../client/connection.ts'
import type { ConnectOptions, Connection } from '../../client/connection.ts'
import { AUTO_WEBRTC_TIMEOUT_MS, connector } from '../../client/transports.ts'

const options: ConnectOptions = { url: 'http://127.0.0.1', port: 1, ticket: 't', timeoutMs: 10_000 }

function fakeTransports(webrtcFails: Array<ConnectError | undefined>) {
  const calls: Array<{ kind: string; timeoutMs: number | undefined }> = []
  const conn = (kind: string) => ({ id: kind }) as unknown as Connection
  return {
    calls,
    using: {
      webrtc: async (o: ConnectOptions) => {
        calls.push({ kind: 'webrtc', timeoutMs: o.timeoutMs })
        const err = webrtcFails.shift()
        if (err) throw err
        return conn('webrtc')
      },
      websocket: async (o: ConnectOptions) => {
        calls.push({ kind: 'websocket', timeoutMs: o.timeoutMs })
        return conn('websocket')
      },
    },
  }
}

describe('transport choice', () => {
  it('uses only the transport asked for', async () => {
    const f = fakeTransports([new ConnectError('timeout', 'x')])
    await expect(connector('webrtc', f.using)(options)).rejects.toMatchObject({ code: 'timeout' })
    expect((await connector('websocket', f.using)(options)).id).toBe('websocket')
    expect(f.calls.map((c) => c.kind)).toEqual(['webrtc', 'websocket'])
  })

  it('auto: WebRTC while it works, with a shorter connect timeout', async () => {
    const f = fakeTransports([])
    const connect = connector('auto', f.using)
    expect((await connect(options)).id).toBe('webrtc')
    expect((await connect(options)).id).toBe('webrtc')
    expect(f.calls).toEqual([
      { kind: 'webrtc', timeoutMs: AUTO_WEBRTC_TIMEOUT_MS },
      { kind: 'webrtc', timeoutMs: AUTO_WEBRTC_TIMEOUT_MS },
    ])
  })

  it('auto: once WebRTC cannot connect, WebSocket now and from then on', async () => {
    const f = fakeTransports([new ConnectError('timeout', 'no candidate pair')])
    const connect = connector('auto', f.using)
    expect((await connect(options)).id).toBe('websocket')
    expect((await connect(options)).id).toBe('websocket')
    expect(f.calls.map((c) => c.kind)).toEqual(['webrtc', 'websocket', 'websocket'])
    expect(f.calls[1]?.timeoutMs).toBe(10_000)
  })

  it('auto: a refused ticket is final, not a reason to try WebSocket', async () => {
    const f = fakeTransports([new ConnectError('refused', 'bad ticket', 401)])
    const connect = connector('auto', f.using)
    await expect(connect(options)).rejects.toMatchObject({ code: 'refused', status: 401 })
    expect(f.calls.map((c) => c.kind)).toEqual(['webrtc'])
    expect((await connect(options)).id).toBe('webrtc')
  })
})
