import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../core/api/types.ts'
import type { EventStreamOptions } from '../../coordinator/api/events.ts'
import { buildOperatorApi } from '../../coordinator/api/server.ts'
import { createMetricsRegistry } from '../../core/http/ops.ts'
import { silentLogger } from '../../core/log.ts'
import type { SseItem } from '../../scripts/cli/sse.ts'
import { readSse } from '../../scripts/cli/sse.ts'
import { MemoryOperatorBackend } from '../helpers/memory-operator-backend.ts'

const apps: FastifyInstance[] = []
const aborts: AbortController[] = []
afterEach(async () => {
  for (const abort of aborts.splice(0)) abort.abort()
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

/** A listening API over a backend that already holds 4 events (2 joins, 2 worlds). */
async function serve(events: EventStreamOptions = {}) {
  const backend = new MemoryOperatorBackend().addWorker('w-1').addWorker('w-2').addWorld('w1', 'w-1').addWorld('w2', 'w-2')
  const app = buildOperatorApi(backend, {
    logger: silentLogger(),
    registry: createMetricsRegistry(),
    ready: () => ({ ok: true }),
    events,
  })
  apps.push(app)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, backend, url }
}

/** Opens the stream and returns a pull-style reader of its events (and comments). */
async function open(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController()
  aborts.push(abort)
  const res = await fetch(url, { headers, signal: abort.signal })
  if (!res.body) throw new Error('no body')
  const items = readSse(res.body)
  const next = async (): Promise<SseItem> => {
    const item = await items.next()
    if (item.done) throw new Error('stream ended')
    return item.value
  }
  const nextEvent = async (): Promise<{ id: string | undefined; event: string; data: ClusterEvent }> => {
    for (;;) {
      const item = await next()
      if (item.kind === 'event') return { id: item.id, event: item.event, data: JSON.parse(item.data) as ClusterEvent }
    }
  }
  return { res, abort, items, next, nextEvent }
}

describe('GET /api/v1/events (server-sent events)', () => {
  it('replays the held events after Last-Event-ID, then delivers live ones', async () => {
    const { backend, url } = await serve()
    const stream = await open(`${url}/api/v1/events`, { 'last-event-id': '2' })
    expect(stream.res.status).toBe(200)
    expect(stream.res.headers.get('content-type')).toContain('text/event-stream')
    const third = await stream.nextEvent()
    expect(third).toMatchObject({ id: '3', event: 'map', data: { seq: 3, type: 'map', worldId: 'w1' } })
    expect((await stream.nextEvent()).id).toBe('4')
    await backend.events.whenListenerCount(1)
    await backend.pauseRebalancing()
    const live = await stream.nextEvent()
    expect(live).toMatchObject({ id: '5', event: 'operator', data: { seq: 5, message: 'rebalancing paused' } })
  })

  it('writes each event as id, event and one data line of JSON', async () => {
    const { url } = await serve()
    const res = await fetch(`${url}/api/v1/events?after=3`)
    const reader = res.body?.getReader()
    let text = ''
    while (reader && !text.includes('\n\n', text.indexOf('id: 4'))) {
      const { value } = await reader.read()
      text += new TextDecoder().decode(value)
    }
    await reader?.cancel()
    expect(text).toMatch(/^retry: \d+\n\n/)
    expect(text).toMatch(/\nid: 4\nevent: map\ndata: \{"seq":4,.*"worldId":"w2".*\}\n\n$/)
  })

  it('takes ?after= when no Last-Event-ID is sent, and prefers the header when both are', async () => {
    const { url } = await serve()
    expect((await (await open(`${url}/api/v1/events?after=1`)).nextEvent()).id).toBe('2')
    expect((await (await open(`${url}/api/v1/events?after=1`, { 'last-event-id': '3' })).nextEvent()).id).toBe('4')
    expect((await (await open(`${url}/api/v1/events`)).nextEvent()).id).toBe('1')
  })

  it('removes its subscription when the client disconnects', async () => {
    const { backend, url } = await serve()
    const a = await open(`${url}/api/v1/events`)
    const b = await open(`${url}/api/v1/events`)
    await backend.events.whenListenerCount(2)
    a.abort.abort()
    await backend.events.whenListenerCount(1)
    await backend.pauseRebalancing()
    expect((await b.nextEvent()).id).toBe('1')
    b.abort.abort()
    await backend.events.whenListenerCount(0)
    expect(backend.events.listenerCount).toBe(0)
  })

  it('sends heartbeat comments on an idle stream', async () => {
    const { url } = await serve({ heartbeatMs: 20 })
    const stream = await open(`${url}/api/v1/events?after=4`)
    expect(await stream.next()).toEqual({ kind: 'comment', text: 'heartbeat' })
  })

  it('cuts off a client that does not read, so it cannot hold the server memory', async () => {
    const { backend, url } = await serve({ maxBufferedBytes: 16 * 1024 })
    const stream = await open(`${url}/api/v1/events`)
    await backend.events.whenListenerCount(1)
    // Nobody reads the body: socket buffers fill, then the server's write buffer passes the bound.
    const bulky = 'x'.repeat(64 * 1024)
    const cut = backend.events.whenListenerCount(0)
    for (let i = 0; i < 200 && backend.events.listenerCount > 0; i++) {
      backend.events.emit({ type: 'load', message: bulky })
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await cut
    stream.abort.abort()
  })

  it('answers HEAD without holding a stream open', async () => {
    const { backend, url } = await serve()
    const res = await fetch(`${url}/api/v1/events`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    expect(backend.events.listenerCount).toBe(0)
  })

  it('ends open streams when the API closes', async () => {
    const { app, backend, url } = await serve()
    const stream = await open(`${url}/api/v1/events?after=4`)
    await backend.events.whenListenerCount(1)
    await app.close()
    expect(await stream.items.next()).toEqual({ done: true, value: undefined })
    expect(backend.events.listenerCount).toBe(0)
  })
})
