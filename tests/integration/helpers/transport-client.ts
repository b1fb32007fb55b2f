/**
 * A player process for transport tests that need a client to vanish without a goodbye: connects
 * with the ticket in argv, reports over IPC, then keeps sending until it is killed.
 * Usage: node --import tsx transport-client.ts <url> <port> <ticket>
 */
import { installNodeWebRTC } from '../../../client/polyfill-node.ts'
import { connect } from '../../../client/connection.ts'

const [url, port, ticket] = process.argv.slice(2)
if (url === undefined || port === undefined || ticket === undefined || !process.send) {
  process.stderr.write('usage: transport-client.ts <url> <port> <ticket> (forked with IPC)\n')
  process.exit(2)
}
installNodeWebRTC()
try {
  const conn = await connect({ url, port: Number(port), ticket, timeoutMs: 10_000 })
  process.send({ type: 'connected', id: conn.id })
  setInterval(() => conn.sendRaw(new Uint8Array([1, 2, 3])), 100)
} catch (err) {
  process.send({ type: 'error', message: err instanceof Error ? err.message : String(err) })
  process.exit(1)
}
