/**
 * The operations endpoints every Tessera process serves next to its own routes: Prometheus metrics,
 * liveness and readiness. Each service owns its metrics registry (never prom-client's global one),
 * so two services can share a process, as they do in `tessera dev` and in tests.
 */
// The swagger plugin's schema fields (tags, summary) are typed by its module augmentation.
import type {} from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'

/** What `/readyz` reports: not ready while, e.g., the store is unreachable or the cache is cold. */
export interface Readiness {
  ok: boolean
  /** Why the process is not ready; shown to whoever probes. */
  reason?: string
}

export interface OpsOptions {
  /** The registry `/metrics` exposes. */
  registry: Registry
  /** Asked on every `/readyz` probe; must be cheap. */
  ready: () => Readiness
}

/**
 * A registry with the process metrics (CPU, memory, event-loop lag, GC) and `labels` on every
 * series, e.g. `{ service: 'coordinator', node: 'c1' }`. `prefix` is put before the default metrics'
 * names (default none, giving the usual `process_*` and `nodejs_*`).
 */
export function createMetricsRegistry(labels: Record<string, string> = {}, prefix?: string): Registry {
  const register = new Registry()
  register.setDefaultLabels(labels)
  collectDefaultMetrics(prefix === undefined ? { register } : { register, prefix })
  return register
}

const readySchema = {
  type: 'object',
  properties: { ready: { type: 'boolean' }, reason: { type: 'string' } },
  required: ['ready'],
} as const

/** Adds `GET /metrics`, `GET /healthz` and `GET /readyz` to `app`. */
export function registerOps(app: FastifyInstance, options: OpsOptions): void {
  const { registry, ready } = options

  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)' } },
    async (_req, reply) => {
      const body = await registry.metrics()
      return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(body)
    },
  )

  // Liveness only says the event loop answers: a process that is up but not ready must not be
  // restarted for it, or a slow store would make an orchestrator kill healthy processes.
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness: 200 while the process runs',
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
      },
    },
    async (_req, reply) => reply.header('cache-control', 'no-store').send({ ok: true }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Readiness: 200 when the process can serve, 503 with a reason otherwise',
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (_req, reply) => {
      let state: Readiness
      try {
        state = ready()
      } catch (err) {
        // A failing probe is a reason not to be ready, not a server error.
        state = { ok: false, reason: `readiness check failed: ${err instanceof Error ? err.message : String(err)}` }
      }
      reply.header('cache-control', 'no-store')
      if (state.ok) return reply.code(200).send({ ready: true })
      return reply.code(503).send({ ready: false, reason: state.reason ?? 'not ready' })
    },
  )
}
