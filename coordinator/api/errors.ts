/**
 * One shape for every error the operator API answers: `{ error: { code, message } }` with the
 * status of `apiErrorCodes[code]`, whether it came from the backend, from validation, from the
 * router or from a bug. Clients (the CLI, the dashboard) then need one error path only.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ApiErrorBody, ApiErrorCode } from '../../core/api/types.ts'
import { apiErrorCodes } from '../../core/api/types.ts'
import type { Logger } from '../../core/log.ts'
import { ApiError } from './backend.ts'

/** Map anything thrown while serving a request to an API error code and a message safe to show. */
export function toApiError(err: unknown): { code: ApiErrorCode; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message }
  const e = err as Partial<FastifyError> | undefined
  if (e?.validation) return { code: 'bad_request', message: e.message ?? 'invalid request' }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500
  if (status === 413) return { code: 'payload_too_large', message: e?.message ?? 'request body too large' }
  if (status === 404) return { code: 'not_found', message: e?.message ?? 'not found' }
  // Other client errors fastify raises (bad JSON, empty body, bad content type) are bad requests.
  if (status >= 400 && status < 500) return { code: 'bad_request', message: e?.message ?? 'bad request' }
  // Never leak internals (stack, store addresses) to clients: the log has the details.
  return { code: 'internal', message: 'internal error' }
}

export function sendApiError(reply: FastifyReply, code: ApiErrorCode, message: string): FastifyReply {
  const body: ApiErrorBody = { error: { code, message } }
  return reply.code(apiErrorCodes[code]).type('application/json; charset=utf-8').send(body)
}

/** Installs the error and not-found handlers on `app` (call before registering routes). */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { code, message } = toApiError(err)
    const status = apiErrorCodes[code]
    if (status >= 500 && code === 'internal') logger.error({ err, method: req.method, url: req.url }, 'operator API request failed')
    else logger.debug({ code, message, method: req.method, url: req.url }, 'operator API request refused')
    return sendApiError(reply, code, message)
  })

  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) =>
    sendApiError(reply, 'not_found', `no route ${req.method} ${req.url.split('?')[0] ?? req.url}`),
  )
}
