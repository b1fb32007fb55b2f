import { fastify } from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Counter, register as globalRegistry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import type { Readiness } from '../../core/http/ops.ts'
import { createMetricsRegistry, registerOps } from '../../core/http/ops.ts'

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

function opsApp(labels: Record<string, string>, ready: () => Readiness = () => ({ ok: true })) {
  const registry = createMetricsRegistry(labels)
  const app = fastify()
  registerOps(app, { registry, ready })
  apps.push(app)
  return { app, registry }
}

describe('GET /metrics', () => {
  it('serves the given registry in the Prometheus text format, with process metrics and default labels', async () => {
    const { app, registry } = opsApp({ service: 'coordinator', node: 'c1' })
    new Counter({ name: 'tessera_test_decisions_total', help: 'test counter', registers: [registry] }).inc(3)
    const res = await app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/plain')
    expect(res.body).toContain('# TYPE tessera_test_decisions_total counter')
    expect(res.body).toMatch(/tessera_test_decisions_total\{service="coordinator",node="c1"\} 3/)
    expect(res.body).toMatch(/process_cpu_user_seconds_total\{service="coordinator",node="c1"\}/)
    expect(res.body).toContain('nodejs_eventloop_lag_seconds')
  })

  it('keeps two services in one process apart and never reads the global registry', async () => {
    const a = opsApp({ service: 'worker', node: 'w1' })
    const b = opsApp({ service: 'worker', node: 'w2' })
    new Counter({ name: 'tessera_test_only_a_total', help: 'a', registers: [a.registry] }).inc()
    new Counter({ name: 'tessera_test_global_total', help: 'global' }).inc()
    try {
      const bodyA = (await a.app.inject({ url: '/metrics' })).body
      const bodyB = (await b.app.inject({ url: '/metrics' })).body
      expect(bodyA).toContain('tessera_test_only_a_total')
      expect(bodyB).not.toContain('tessera_test_only_a_total')
      expect(bodyB).toContain('node="w2"')
      expect(bodyB).not.toContain('node="w1"')
      for (const body of [bodyA, bodyB]) expect(body).not.toContain('tessera_test_global_total')
    } finally {
      globalRegistry.removeSingleMetric('tessera_test_global_total')
    }
  })
})

describe('GET /healthz', () => {
  it('answers 200 while the process runs, even when not ready', async () => {
    const { app } = opsApp({}, () => ({ ok: false, reason: 'store unreachable' }))
    const res = await app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true })
  })
})

describe('GET /readyz', () => {
  it('follows the readiness check: 200 when ready, 503 with the reason when not', async () => {
    let state: Readiness = { ok: false, reason: 'no leader yet' }
    const { app } = opsApp({}, () => state)
    const before = await app.inject({ url: '/readyz' })
    expect(before.statusCode).toBe(503)
    expect(before.json()).toEqual({ ready: false, reason: 'no leader yet' })
    state = { ok: true }
    const after = await app.inject({ url: '/readyz' })
    expect(after.statusCode).toBe(200)
    expect(after.json()).toEqual({ ready: true })
  })

  it('gives a reason when the check names none, and treats a throwing check as not ready', async () => {
    const quiet = opsApp({}, () => ({ ok: false }))
    expect((await quiet.app.inject({ url: '/readyz' })).json()).toEqual({ ready: false, reason: 'not ready' })
    const broken = opsApp({}, () => {
      throw new Error('cache missing')
    })
    const res = await broken.app.inject({ url: '/readyz' })
    expect(res.statusCode).toBe(503)
    expect(res.json<{ reason: string }>().reason).toContain('cache missing')
  })
})
