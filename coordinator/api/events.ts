/**
 * `GET /api/v1/events`: the cluster's event feed as server-sent events. A client first gets the
 * held events after the one it last saw (`Last-Event-ID` on reconnect, or `?after=`), then every new
 * event as it happens. Written on the raw response: one event is three short lines, not worth a
 * dependency.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { ClusterEvent } from '../../core/api/types.ts'
import type { Logger } from '../../core/log.ts'
import type { EventFeed } from './backend.ts'
import { errorResponses } from './schemas.ts'

export interface EventStreamOptions {
  /** Comment line sent on idle streams so proxies and clients do not time them out. Default 15 000 ms. */
  heartbeatMs?: number
  /**
   * Bytes a client may leave unread before its stream is cut (it reconnects with `Last-Event-ID`
   * and misses nothing still held). Default 1 MiB.
   */
  maxBufferedBytes?: number
  /** Reconnect delay suggested to clients (`retry:`). Default 2 000 ms. */
  retryMs?: number
}

/** One event in the SSE wire format. JSON has no raw newlines, so `data` fits on one line. */
export function formatSseEvent(event: ClusterEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}

interface Querystring {
  after?: number
}

export function registerEventStream(
  app: FastifyInstance,
  feed: EventFeed,
  logger: Logger,
  options: EventStreamOptions = {},
): void {
  const heartbeatMs = options.heartbeatMs ?? 15_000
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024
  const retryMs = options.retryMs ?? 2_000
  const open = new Set<ServerResponse>()

  // Open streams would keep `close()` waiting forever: end them first, clients reconnect elsewhere.
  app.addHook('preClose', (done) => {
    for (const res of open) res.end()
    open.clear()
    done()
  })

  app.get<{ Querystring: Querystring }>(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Cluster events as server-sent events: held events after Last-Event-ID (or ?after=), then live',
        description:
          'Each event: `id: <seq>`, `event: <type>`, `data: <ClusterEvent JSON>`. Comment lines are heartbeats.',
        querystring: {
          type: 'object',
          properties: { after: { type: 'integer', minimum: 0, description: 'Replay events with a greater seq.' } },
          additionalProperties: false,
        },
        headers: {
          type: 'object',
          properties: { 'last-event-id': { type: 'string', pattern: '^[0-9]+$' } },
        },
        response: {
          200: {
            description: 'text/event-stream of ClusterEvent',
            content: { 'text/event-stream': { schema: { $ref: 'ClusterEvent#' } } },
          },
          ...errorResponses(),
        },
      },
    },
    (req, reply) => {
      // The header wins: it is what a reconnecting EventSource sends, while ?after= stays in its URL.
      const header = req.headers['last-event-id']
      const after = typeof header === 'string' && header !== '' ? Number(header) : req.query.after
      // fastify answers HEAD with this handler too: no stream to hold open for it.
      if (req.method === 'HEAD') return reply.code(200).type('text/event-stream; charset=utf-8').send()

      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Tells nginx-style proxies not to buffer the stream.
        'x-accel-buffering': 'no',
      })
      open.add(res)
      res.write(`retry: ${retryMs}\n\n`)

      let lastSent = after ?? -1
      const send = (event: ClusterEvent): void => {
        if (event.seq <= lastSent || res.writableEnded || res.destroyed) return
        lastSent = event.seq
        res.write(formatSseEvent(event))
        if (res.writableLength > maxBufferedBytes) {
          logger.warn({ remote: req.ip, buffered: res.writableLength }, 'event stream client too slow; closing its stream')
          res.end()
        }
      }
      // Replay and subscription happen in one synchronous step, so no event falls between them;
      // `lastSent` drops any event the feed would hand over twice.
      for (const event of feed.recent(after)) send(event)
      const unsubscribe = feed.subscribe(send)

      const heartbeat = setInterval(() => {
        if (!res.writableEnded) res.write(': heartbeat\n\n')
      }, heartbeatMs)
      heartbeat.unref()

      res.once('close', () => {
        clearInterval(heartbeat)
        unsubscribe()
        open.delete(res)
        logger.debug({ remote: req.ip, lastSent }, 'event stream closed')
      })
      logger.debug({ remote: req.ip, after }, 'event stream opened')
    },
  )
}
