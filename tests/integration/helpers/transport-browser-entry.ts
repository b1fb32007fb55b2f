/**
 * Bundled by the transport test for a real browser: exposes `tesseraTransportCheck`, which connects
 * with the player library's plain browser path (no polyfill), exchanges one message, checks that a
 * bad ticket is refused, and closes.
 */
import { connect } from '../../../client/connection.ts'
import type { ConnectError } from '../../../client/connection.ts'

async function check(url: string, port: number, ticket: string): Promise<{ reply: number[]; refused: string }> {
  const conn = await connect({ url, port, ticket, timeoutMs: 10_000 })
  const reply = await new Promise<number[]>((resolve, reject) => {
    const resend = setInterval(() => conn.sendRaw(new Uint8Array([7, 7])), 50)
    const timeout = setTimeout(() => {
      clearInterval(resend)
      reject(new Error('no reply'))
    }, 5000)
    conn.onMessage((bytes) => {
      clearInterval(resend)
      clearTimeout(timeout)
      resolve([...bytes])
    })
  })
  const refused = await connect({ url, port, ticket: 'garbage', timeoutMs: 10_000 }).then(
    () => 'connected',
    (err: ConnectError) => `${err.code}:${err.status}`,
  )
  conn.close()
  return { reply, refused }
}

;(globalThis as Record<string, unknown>)['tesseraTransportCheck'] = check
