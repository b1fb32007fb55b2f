/** Request-body handling shared by the HTTP services. */
import type { FastifyInstance } from 'fastify'

/**
 * Accept a POST sent as `application/json` with an empty body (actions and joins carry none), which
 * fastify's default JSON parser refuses; any other body is parsed by that default parser as before.
 */
export function acceptEmptyJsonBody(app: FastifyInstance): void {
  const defaultJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') return done(null, undefined)
    return defaultJson(req, text, done)
  })
}
