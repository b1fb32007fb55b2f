/**
 * A worker-like process for transport tests that need the server to vanish: starts a
 * ClientTransport that accepts any `ok:` ticket on route `w`, echoes messages, reports its address
 * over IPC, and runs until it is killed.
 */
import { ClientTransport } from '../../../worker/transport/geckos-server.ts'

if (!process.send) {
  process.stderr.write('transport-server.ts must be forked with an IPC channel\n')
  process.exit(2)
}
const transport = await ClientTransport.start({
  authorize: async (token) => (token.startsWith('ok:') ? { ok: true, route: 'w', principal: {} } : { ok: false, status: 401, code: 'bad-ticket' }),
})
transport.route('w', { onConnect: (conn) => conn.onMessage((bytes) => conn.sendRaw(bytes)) })
process.send({ type: 'ready', url: transport.url, port: transport.port })
