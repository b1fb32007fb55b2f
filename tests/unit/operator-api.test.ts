import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { ActionResult, ApiErrorBody, ClusterSummary, WorldDetail } from '../../core/api/types.ts'
import type { OperatorApiOptions } from '../../coordinator/api/server.ts'
import { buildOperatorApi } from '../../coordinator/api/server.ts'
import { createMetricsRegistry } from '../../core/http/ops.ts'
import { silentLogger } from '../../core/log.ts'
import type { OperatorBackend } from '../../coordinator/api/backend.ts'
import { MemoryOperatorBackend } from '../helpers/memory-operator-backend.ts'

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})
const dir = mkdtempSync(join(tmpdir(), 'tessera-dashboard-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function cluster(): MemoryOperatorBackend {
  return new MemoryOperatorBackend().addWorker('w-1').addWorker('w-2').addWorld('w1', 'w-1', 20, 400).addWorld('lobby', 'w-2', 4, 10, 'room')
}

function api(backend: OperatorBackend = cluster(), options: Partial<OperatorApiOptions> = {}) {
  const app = buildOperatorApi(backend, {
    logger: silentLogger(),
    registry: createMetricsRegistry({ service: 'coordinator' }),
    ready: () => ({ ok: true }),
    ...options,
  })
  apps.push(app)
  const call = async (method: 'GET' | 'POST', url: string, extra: Partial<InjectOptions> = {}) => app.inject({ method, url, ...extra })
  return { app, call }
}

async function expectError(res: Awaited<ReturnType<ReturnType<typeof api>['call']>>, status: number, code: string) {
  expect(res.statusCode).toBe(status)
  expect(res.headers['content-type']).toContain('application/json')
  const body = res.json<ApiErrorBody>()
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
  expect(Object.keys(body)).toEqual(['error'])
  return body.error.message
}

describe('operator API reads', () => {
  it('GET /api/v1/cluster answers the backend summary, every field intact', async () => {
    const backend = cluster()
    const res = await api(backend).call('GET', '/api/v1/cluster')
    expect(res.statusCode).toBe(200)
    const body = res.json<ClusterSummary>()
    expect(body).toEqual(backend.cluster())
    expect(body.workers.map((w) => w.id)).toEqual(['w-1', 'w-2'])
    expect(body.totals).toMatchObject({ workers: 2, worlds: 1, rooms: 1, partitions: 2, load: 24 })
  })

  it('GET /api/v1/worlds/:id answers the world detail, and 404 not_found for an unknown world', async () => {
    const backend = cluster()
    await backend.splitPartition('w1', 'p0')
    const { call } = api(backend)
    const res = await call('GET', '/api/v1/worlds/w1')
    expect(res.statusCode).toBe(200)
    const detail = res.json<WorldDetail>()
    expect(detail).toEqual(backend.world('w1'))
    expect(detail.partitions.map((p) => p.id)).toEqual(['w1:p0a', 'w1:p0b'])
    expect(detail.partitions[0]?.mergeableWith).toBe('p0b')
    expect(detail.splits).toHaveLength(1)
    expect(await expectError(await call('GET', '/api/v1/worlds/atlantis'), 404, 'not_found')).toContain('atlantis')
  })

  it('passes through fields the schemas do not list yet instead of dropping them', async () => {
    const backend = cluster()
    const summary = backend.cluster()
    const extended = Object.assign(Object.create(backend) as MemoryOperatorBackend, {
      cluster: () => ({ ...summary, planRound: 7, workers: summary.workers.map((w) => ({ ...w, cpu: 0.5 })) }),
    })
    const body = (await api(extended).call('GET', '/api/v1/cluster')).json<Record<string, unknown>>()
    expect(body.planRound).toBe(7)
    expect((body.workers as { cpu: number }[])[0]?.cpu).toBe(0.5)
  })
})

describe('operator API actions', () => {
  it('POST /api/v1/workers/:id/drain drains the worker and moves its partitions', async () => {
    const backend = cluster()
    const { call } = api(backend)
    const res = await call('POST', '/api/v1/workers/w-1/drain')
    expect(res.statusCode).toBe(200)
    expect(res.json<ActionResult>()).toEqual({ ok: true, message: 'worker w-1 draining; 1 partitions moved' })
    const view = backend.cluster().workers.find((w) => w.id === 'w-1')
    expect(view).toMatchObject({ draining: true, partitions: 0 })
    expect(await expectError(await call('POST', '/api/v1/workers/w-9/drain'), 404, 'not_found')).toContain('w-9')
    // With w-1 draining, nobody can take w-2's partitions.
    await expectError(await call('POST', '/api/v1/workers/w-2/drain'), 409, 'conflict')
  })

  it('split, merge, pin and unpin a partition by {worldId}:{partitionId}, colon plain or encoded', async () => {
    const backend = cluster()
    const { call } = api(backend)
    expect((await call('POST', '/api/v1/partitions/w1:p0/split')).json<ActionResult>().message).toBe('split p0 of w1 into p0a and p0b')
    expect(backend.world('w1')?.partitions).toHaveLength(2)
    expect((await call('POST', '/api/v1/partitions/w1%3Ap0a/pin')).statusCode).toBe(200)
    expect(backend.world('w1')?.partitions.find((p) => p.partitionId === 'p0a')?.pinned).toBe(true)
    await expectError(await call('POST', '/api/v1/partitions/w1:p0a/merge'), 409, 'conflict')
    expect((await call('POST', '/api/v1/partitions/w1%3ap0a/unpin')).statusCode).toBe(200)
    const merged = await call('POST', '/api/v1/partitions/w1:p0b/merge')
    expect(merged.json<ActionResult>()).toEqual({ ok: true, message: 'merged p0b and p0a into p0' })
    expect(backend.world('w1')?.partitions.map((p) => p.id)).toEqual(['w1:p0'])
  })

  it('keeps world ids with colons whole: the partition id is after the last colon', async () => {
    const backend = new MemoryOperatorBackend().addWorker('w-1').addWorld('eu:arena', 'w-1')
    const res = await api(backend).call('POST', `/api/v1/partitions/${encodeURIComponent('eu:arena:p0')}/pin`)
    expect(res.json<ActionResult>().message).toBe('pinned p0 of eu:arena on w-1')
  })

  it('answers 400 bad_request for malformed partition ids and 404 for unknown partitions', async () => {
    const { call } = api()
    for (const id of ['p0', 'w1:', ':p0', encodeURIComponent('w1')]) {
      const message = await expectError(await call('POST', `/api/v1/partitions/${id}/split`), 400, 'bad_request')
      expect(message).toContain('{worldId}:{partitionId}')
    }
    await expectError(await call('POST', '/api/v1/partitions/w1:p7/split'), 404, 'not_found')
    await expectError(await call('POST', '/api/v1/partitions/mars:p0/pin'), 404, 'not_found')
  })

  it('pauses and resumes rebalancing', async () => {
    const backend = cluster()
    const { call } = api(backend)
    expect((await call('POST', '/api/v1/rebalancing/pause')).json<ActionResult>().message).toBe('rebalancing paused')
    expect((await call('GET', '/api/v1/cluster')).json<ClusterSummary>().paused).toBe(true)
    expect((await call('POST', '/api/v1/rebalancing/resume')).json<ActionResult>().message).toBe('rebalancing resumed')
    expect(backend.paused).toBe(false)
  })

  it('answers 503 not_leader on a standby for every action, while reads still work', async () => {
    const backend = cluster()
    backend.leading = false
    const { call } = api(backend)
    for (const url of [
      '/api/v1/workers/w-1/drain',
      '/api/v1/partitions/w1:p0/split',
      '/api/v1/partitions/w1:p0/merge',
      '/api/v1/partitions/w1:p0/pin',
      '/api/v1/partitions/w1:p0/unpin',
      '/api/v1/rebalancing/pause',
      '/api/v1/rebalancing/resume',
    ]) {
      expect(await expectError(await call('POST', url), 503, 'not_leader')).toContain('standby')
    }
    expect((await call('GET', '/api/v1/cluster')).json<ClusterSummary>().self.leading).toBe(false)
  })

  it('accepts an empty body announced as JSON, and refuses a broken one', async () => {
    const { call } = api()
    const json = { 'content-type': 'application/json' }
    expect((await call('POST', '/api/v1/rebalancing/pause', { headers: json, payload: '' })).statusCode).toBe(200)
    expect((await call('POST', '/api/v1/rebalancing/resume', { headers: json, payload: '{}' })).statusCode).toBe(200)
    await expectError(await call('POST', '/api/v1/rebalancing/pause', { headers: json, payload: '{"x":' }), 400, 'bad_request')
  })
})

describe('operator API errors', () => {
  it('answers validation errors as 400 bad_request', async () => {
    const { call } = api()
    expect(await expectError(await call('GET', '/api/v1/events?after=soon'), 400, 'bad_request')).toContain('after')
    await expectError(await call('GET', '/api/v1/events?after=-1'), 400, 'bad_request')
    await expectError(await call('GET', '/api/v1/events?from=3'), 400, 'bad_request')
    await expectError(await call('GET', '/api/v1/events', { headers: { 'last-event-id': 'abc' } }), 400, 'bad_request')
    await expectError(await call('POST', `/api/v1/workers/${'w'.repeat(300)}/drain`), 400, 'bad_request')
    await expectError(await call('POST', `/api/v1/workers/${'w'.repeat(3000)}/drain`), 400, 'bad_request')
    await expectError(await call('GET', '/api/v1/worlds/%E0%A4%A'), 400, 'bad_request')
  })

  it('answers an oversized body with 413 payload_too_large', async () => {
    const backend = cluster()
    const { call } = api(backend)
    const payload = JSON.stringify({ note: 'x'.repeat(70 * 1024) })
    await expectError(await call('POST', '/api/v1/rebalancing/pause', { headers: { 'content-type': 'application/json' }, payload }), 413, 'payload_too_large')
    expect(backend.paused).toBe(false)
  })

  it('answers unknown routes and methods with 404 not_found', async () => {
    const { call } = api()
    expect(await expectError(await call('GET', '/api/v1/planets'), 404, 'not_found')).toContain('/api/v1/planets')
    await expectError(await call('POST', '/api/v1/cluster'), 404, 'not_found')
    await expectError(await call('GET', '/api/v1/workers/w-1/drain'), 404, 'not_found')
    await expectError(await call('POST', '/api/v1/partitions/w1:p0/explode'), 404, 'not_found')
  })

  it('answers unexpected exceptions with 500 internal without leaking their message', async () => {
    const backend = cluster()
    const broken = Object.assign(Object.create(backend) as MemoryOperatorBackend, {
      cluster: () => {
        throw new Error('etcd at 10.0.0.7:2379 refused the password hunter2')
      },
      pauseRebalancing: async () => {
        throw new TypeError('undefined is not a function')
      },
    })
    const { call } = api(broken)
    const message = await expectError(await call('GET', '/api/v1/cluster'), 500, 'internal')
    expect(message).not.toContain('hunter2')
    await expectError(await call('POST', '/api/v1/rebalancing/pause'), 500, 'internal')
  })
})

describe('operator API document, ops endpoints and dashboard', () => {
  it('serves an OpenAPI document listing every route with its schemas', async () => {
    const res = await api().call('GET', '/api/v1/openapi.json')
    expect(res.statusCode).toBe(200)
    const doc = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } }>()
    expect(doc.openapi).toMatch(/^3\./)
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
    expect(routes.sort()).toEqual(
      [
        'GET /api/v1/cluster',
        'GET /api/v1/worlds/{id}',
        'GET /api/v1/events',
        'POST /api/v1/workers/{id}/drain',
        ...['split', 'merge', 'pin', 'unpin'].map((a) => `POST /api/v1/partitions/{id}/${a}`),
        'POST /api/v1/rebalancing/pause',
        'POST /api/v1/rebalancing/resume',
        'GET /metrics',
        'GET /healthz',
        'GET /readyz',
      ].sort(),
    )
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['ClusterSummary', 'WorldDetail', 'ClusterEvent', 'ActionResult', 'ApiError']),
    )
    expect(JSON.stringify(doc.paths['/api/v1/cluster'])).toContain('#/components/schemas/ClusterSummary')
  })

  it('serves /metrics, /healthz and /readyz', async () => {
    let ready = { ok: false, reason: 'cache warming' }
    const { call } = api(cluster(), { ready: () => ready })
    expect((await call('GET', '/metrics')).body).toContain('service="coordinator"')
    expect((await call('GET', '/healthz')).statusCode).toBe(200)
    expect((await call('GET', '/readyz')).json()).toEqual({ ready: false, reason: 'cache warming' })
    ready = { ok: true, reason: '' }
    expect((await call('GET', '/readyz')).statusCode).toBe(200)
  })

  it('serves the dashboard from dashboardDir, with JSON 404s for missing files', async () => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tessera</title>')
    writeFileSync(join(dir, 'app.js'), 'export {}')
    const { call } = api(cluster(), { dashboardDir: dir })
    const index = await call('GET', '/')
    expect(index.statusCode).toBe(200)
    expect(index.body).toContain('<title>Tessera</title>')
    expect((await call('GET', '/app.js')).headers['content-type']).toContain('javascript')
    await expectError(await call('GET', '/missing.css'), 404, 'not_found')
    expect((await call('GET', '/api/v1/cluster')).statusCode).toBe(200)
  })

  it('says the dashboard is not built when dashboardDir is absent or missing', async () => {
    for (const options of [{}, { dashboardDir: join(dir, 'nowhere') }]) {
      const { call } = api(cluster(), options)
      const json = await call('GET', '/')
      expect(json.statusCode).toBe(200)
      expect(json.json()).toMatchObject({ dashboard: false })
      const html = await call('GET', '/', { headers: { accept: 'text/html' } })
      expect(html.headers['content-type']).toContain('text/html')
      expect(html.body).toContain('not built')
    }
  })
})
