/** Finds a free UDP port for geckos' pinned `portRange` (it cannot take 0 itself). */
import dgram from 'node:dgram'

/**
 * Binds a throwaway UDP socket to an ephemeral port on `host` and releases it. Another process could
 * take the port in between; callers that need certainty pass a configured port instead.
 */
export function pickFreeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', reject)
    socket.bind(0, host === '' ? undefined : host, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}
