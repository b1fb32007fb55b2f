/**
 * A TCP proxy in front of a server, able to cut every connection at a chosen moment: the way to
 * drop a client's link mid-stream without stopping the server.
 */
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'

export interface TcpProxy {
  /** `http://127.0.0.1:{port}` of the proxy. */
  readonly endpoint: string
  /** How many times connections were cut. */
  readonly cuts: number
  /** Destroy every open connection now (new ones are still accepted). */
  cut(): void
  /**
   * Cut once, as soon as `bytes` more bytes have flowed from the server to clients; `onCut` runs
   * right after the cut.
   */
  cutAfterServerBytes(bytes: number, onCut?: () => void): void
  close(): Promise<void>
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let cuts = 0
  let trigger: { remaining: number; onCut: (() => void) | undefined } | undefined

  const cut = (): void => {
    cuts++
    for (const socket of sockets) socket.destroy()
    sockets.clear()
  }

  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost)
    sockets.add(client)
    sockets.add(upstream)
    const drop = (): void => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.on('data', (chunk: Buffer) => upstream.write(chunk))
    upstream.on('data', (chunk: Buffer) => {
      if (trigger) {
        trigger.remaining -= chunk.length
        if (trigger.remaining <= 0) {
          const { onCut } = trigger
          trigger = undefined
          cut()
          onCut?.()
          return
        }
      }
      client.write(chunk)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected proxy address')

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    get cuts() {
      return cuts
    },
    cut,
    cutAfterServerBytes(bytes, onCut) {
      trigger = { remaining: bytes, onCut }
    },
    async close() {
      trigger = undefined
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
