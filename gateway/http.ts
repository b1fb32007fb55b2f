/**
 * The gateway's fastify instance: JSON limits, rate limits, one error shape (`{ error: { code,
 * message } }` with codes from `Protocol.errorCode`), the OpenAPI document and the ops endpoints.
 */
import fastifyRateLimit from '@fastify/rate-limit'
import fastifySwagger from '@fastify/swagger'
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { fastify, LogController } from 'fastify'
import type { Registry } from 'prom-client'
import type { Counter } from 'prom-client'
import type { GatewayErrorCode } from '../core/api/gateway.ts'
import type { Readiness } from '../core/http/ops.ts'
import { registerOps } from '../core/http/ops.ts'
import type { Logger } from '../core/log.ts'
import { GatewayError } from './errors.ts'
import { acceptEmptyJsonBody } from '../core/http/json-body.ts'

export interface GatewayHttpOptions {
  logger: Logger
  registry: Registry
  ready: () => Readiness
  bodyLimitBytes: number
  rateLimitMax: number
  rateLimitWindowMs: number
  errors: Counter<'code'>
}

/** Anything thrown while serving a request, as a gateway error safe to show. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  const e = err as Partial<FastifyError> | undefined
  if (e?.validation) return new GatewayError('malformed', e.message ?? 'invalid request')
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500
  if (status === 413) return new GatewayError('too_large', e?.message ?? 'request body too large')
  if (status === 429) return new GatewayError('rate_limited', 'too many requests; slow down')
  if (status === 404) return new GatewayError('not_found', e?.message ?? 'not found')
  if (status >= 400 && status < 500) return new GatewayError('malformed', e?.message ?? 'bad request')
  return new GatewayError('internal', 'internal error')
}

function send(reply: FastifyReply, err: GatewayError): FastifyReply {
  return reply.code(err.status).type('application/json; charset=utf-8').send(err.toBody())
}

const OPS_PATHS = new Set(['/metrics', '/healthz', '/readyz'])

export async function buildGatewayHttp(options: GatewayHttpOptions, routes: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const { logger } = options
  const count = (code: GatewayErrorCode) => options.errors.inc({ code })
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    frameworkErrors: (err, _req, reply) => {
      const e = toGatewayError(err)
      count(e.code)
      void send(reply, e)
    },
  })
  acceptEmptyJsonBody(app)

  app.setErrorHandler((err: unknown, req, reply) => {
    const e = toGatewayError(err)
    count(e.code)
    if (e.code === 'internal') logger.error({ err, method: req.method, url: req.url }, 'gateway request failed')
    return send(reply, e)
  })
  app.setNotFoundHandler((req, reply) => {
    count('not_found')
    return send(reply, new GatewayError('not_found', `no route ${req.method} ${req.url.split('?')[0] ?? req.url}`))
  })

  await app.register(fastifyRateLimit, {
    global: true,
    max: options.rateLimitMax,
    timeWindow: options.rateLimitWindowMs,
    // Per player when the request names one, else per address.
    keyGenerator: (req) => {
      const auth = req.headers.authorization
      const player = req.headers['x-player-id']
      return typeof auth === 'string' ? `a:${auth.slice(-32)}` : typeof player === 'string' ? `p:${player}` : `ip:${req.ip}`
    },
    allowList: (req) => OPS_PATHS.has(req.url.split('?')[0] ?? ''),
    errorResponseBuilder: (_req, ctx) => new GatewayError('rate_limited', `too many requests; retry in ${Math.ceil(ctx.ttl / 1000)} s`),
  })

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Tessera gateway API', description: 'Rooms, world joins, matchmaking and join tickets for players.', version: '0.1.0' },
      tags: [
        { name: 'rooms', description: 'Create, join and browse rooms' },
        { name: 'worlds', description: 'Join a partitioned world' },
        { name: 'matchmaking', description: 'Queue for a match' },
        { name: 'players', description: 'Player counts' },
        { name: 'ops', description: 'Metrics, liveness, readiness' },
      ],
    },
  })

  await app.register(async (api) => {
    api.get('/v1/openapi.json', { schema: { hide: true } }, async () => api.swagger())
    routes(api)
    registerOps(api, { registry: options.registry, ready: options.ready })
  })
  return app
}
