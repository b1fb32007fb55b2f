/**
 * `buildOperatorApi`: the coordinator's operator HTTP API (JSON under `/api/v1`, server-sent events,
 * an OpenAPI document), the ops endpoints (`/metrics`, `/healthz`, `/readyz`) and the dashboard's
 * static files, as one fastify instance over an `OperatorBackend`. The caller listens and closes.
 */
import fastifySwagger from '@fastify/swagger'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { fastify, LogController } from 'fastify'
import type { Registry } from 'prom-client'
import type { Readiness } from '../../core/http/ops.ts'
import { registerOps } from '../../core/http/ops.ts'
import type { Logger } from '../../core/log.ts'
import type { OperatorBackend } from './backend.ts'
import { registerDashboard } from './dashboard.ts'
import { installErrorHandling, sendApiError, toApiError } from './errors.ts'
import type { EventStreamOptions } from './events.ts'
import { registerEventStream } from './events.ts'
import { registerRoutes } from './routes.ts'
import { sharedSchemas } from './schemas.ts'
import { acceptEmptyJsonBody } from '../../core/http/json-body.ts'

export interface OperatorApiOptions {
  logger: Logger
  /** The coordinator's metrics registry, exposed at `/metrics`. */
  registry: Registry
  /** Readiness for `/readyz`. */
  ready: () => Readiness
  /** Built dashboard (index.html and assets) to serve at `/`; when absent or missing, `/` says so. */
  dashboardDir?: string
  /** Largest request body accepted, in bytes. Default 64 KiB (actions carry no body). */
  bodyLimit?: number
  /** Event stream tuning (heartbeat interval, slow-client cut-off). */
  events?: EventStreamOptions
  /** Version shown in the OpenAPI document. Default `0.1.0`. */
  version?: string
}

export function buildOperatorApi(backend: OperatorBackend, options: OperatorApiOptions): FastifyInstance {
  const { logger } = options
  const app = fastify({
    // fastify types its logger as its own pino subset; ours is a full pino logger.
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request info lines would drown the log under dashboard polling and metric scrapes.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // On close, cut every connection: event streams and clients' spare keep-alive sockets would
    // otherwise hold a stopping coordinator for seconds. Streams are ended cleanly just before.
    forceCloseConnections: true,
    // Unknown query fields are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    // Above the id schemas' 256, so long ids fail validation with a clear message.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    // Errors the router raises before any route (bad URL encoding, overlong parameters).
    frameworkErrors: (err, _req, reply) => {
      const { code, message } = toApiError(err)
      void sendApiError(reply, code, message)
    },
  })

  acceptEmptyJsonBody(app)

  installErrorHandling(app, logger)
  for (const schema of sharedSchemas) app.addSchema(schema)

  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tessera operator API',
        description: "The coordinator's API for operators, the `tessera ctl` command line and the web dashboard.",
        version: options.version ?? '0.1.0',
      },
      tags: [
        { name: 'cluster', description: 'What the cluster looks like now' },
        { name: 'events', description: 'What happens in the cluster' },
        { name: 'actions', description: 'Operator actions (leader only)' },
        { name: 'ops', description: 'Metrics, liveness, readiness' },
      ],
    },
    // Components keep their schema names instead of def-0, def-1, ...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })

  // Routes go in a plugin registered after swagger, so its onRoute hook sees every one of them.
  void app.register(async (api) => {
    api.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => api.swagger())
    registerRoutes(api, backend)
    registerEventStream(api, backend.events, logger, options.events)
    registerOps(api, { registry: options.registry, ready: options.ready })
    await registerDashboard(api, options.dashboardDir)
  })

  return app
}
