/** The gateway's `/v1` routes: JSON schemas (they feed validation and the OpenAPI document) and handlers. */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Histogram } from 'prom-client'
import type { CreateRoomRequest, MatchRequest, MatchTicketStatus, PlayersOnline, WorldJoinRequest } from '../core/api/gateway.ts'
import type { Identify } from './identity.ts'
import type { Matchmaker } from './matchmaking.ts'
import type { RoomService } from './room-service.ts'
import type { WorldGrant } from '../core/api/gateway.ts'

export interface RouteDeps {
  identify: Identify
  rooms: RoomService
  matchmaker: Matchmaker
  joinWorld: (playerId: string, worldId: string, spawn: { x: number; y: number } | undefined) => Promise<WorldGrant>
  playersOnline: () => PlayersOnline
  maxLongPollMs: number
  latency: Histogram<'op'>
}

const id = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const
const label = { type: 'string', maxLength: 64 } as const
const labels = { type: 'object', additionalProperties: label, maxProperties: 16 } as const
const errorBody = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, workersWanted: { type: 'integer' } }, required: ['code', 'message'] } },
  required: ['error'],
} as const
const grant = {
  type: 'object',
  properties: {
    workerUrl: { type: 'string' }, ticket: { type: 'string' }, expiresAt: { type: 'integer' }, workerId: { type: 'string' },
    worldId: { type: 'string' }, partitionId: { type: 'string' }, epoch: { type: 'integer' }, roomId: { type: 'string' },
  },
  required: ['workerUrl', 'ticket', 'expiresAt', 'workerId', 'worldId', 'partitionId', 'epoch'],
} as const
const errors = { 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody, 410: errorBody, 429: errorBody, 503: errorBody } as const
const ticketStatus = {
  type: 'object',
  properties: { ticketId: { type: 'string' }, state: { type: 'string', enum: ['queued', 'matching', 'matched', 'expired'] }, match: grant },
  required: ['ticketId', 'state'],
} as const

export function registerGatewayRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const who = async (req: FastifyRequest) => (await deps.identify(req)).playerId
  const timed = async <T>(op: string, f: () => Promise<T>): Promise<T> => {
    const end = deps.latency.startTimer({ op })
    try {
      return await f()
    } finally {
      end()
    }
  }

  app.post<{ Body: CreateRoomRequest }>('/v1/rooms', {
    schema: {
      tags: ['rooms'], summary: 'Create a room, placed on the least loaded worker; the creator gets a seat and a ticket',
      body: {
        type: 'object', additionalProperties: false, required: ['mode', 'maxPlayers'],
        properties: { mode: { type: 'string', minLength: 1, maxLength: 64 }, maxPlayers: { type: 'integer', minimum: 1, maximum: 10_000 }, labels, region: label },
      },
      response: { 201: grant, ...errors, 413: errorBody },
    },
  }, async (req, reply) => {
    const playerId = await who(req)
    const g = await timed('create', () => deps.rooms.createAndGrant(playerId, req.body))
    return reply.code(201).send(g)
  })

  app.post<{ Params: { id: string } }>('/v1/rooms/:id/join', {
    schema: { tags: ['rooms'], summary: 'Reserve a seat in a room and get a ticket', params: { type: 'object', properties: { id }, required: ['id'] }, response: { 200: grant, ...errors } },
  }, async (req) => {
    const playerId = await who(req)
    return timed('join', () => deps.rooms.join(playerId, req.params.id))
  })

  app.get<{ Querystring: { mode?: string; label?: string | string[]; hasSpace?: boolean; limit?: number; cursor?: string } }>('/v1/rooms', {
    schema: {
      tags: ['rooms'], summary: 'Browse rooms in id order',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          mode: { type: 'string', maxLength: 64 },
          label: { anyOf: [{ type: 'string', maxLength: 129 }, { type: 'array', items: { type: 'string', maxLength: 129 }, maxItems: 16 }] },
          hasSpace: { type: 'boolean' }, limit: { type: 'integer', minimum: 1, maximum: 500 }, cursor: id,
        },
      },
      response: {
        200: {
          type: 'object', required: ['rooms'],
          properties: {
            nextCursor: { type: 'string' },
            rooms: {
              type: 'array',
              items: {
                type: 'object', required: ['roomId', 'mode', 'labels', 'maxPlayers', 'players', 'state'],
                properties: { roomId: { type: 'string' }, mode: { type: 'string' }, labels, region: { type: 'string' }, maxPlayers: { type: 'integer' }, players: { type: 'integer' }, state: { type: 'string' }, workerId: { type: 'string' } },
              },
            },
          },
        },
        ...errors,
      },
    },
  }, async (req) => {
    await who(req)
    const q = req.query
    const labelList = q.label === undefined ? [] : Array.isArray(q.label) ? q.label : [q.label]
    return deps.rooms.list({
      labels: labelList,
      ...(q.mode !== undefined ? { mode: q.mode } : {}), ...(q.hasSpace !== undefined ? { hasSpace: q.hasSpace } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}), ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    })
  })

  app.post<{ Params: { id: string }; Body: WorldJoinRequest }>('/v1/worlds/:id/join', {
    // The body is optional; an absent one means "no spawn point".
    preValidation: async (req) => {
      req.body ??= {}
    },
    schema: {
      tags: ['worlds'], summary: 'Get the owner of the partition at the spawn point and a ticket',
      params: { type: 'object', properties: { id }, required: ['id'] },
      body: {
        type: 'object', additionalProperties: false,
        properties: { spawn: { type: 'object', additionalProperties: false, required: ['x', 'y'], properties: { x: { type: 'number' }, y: { type: 'number' } } } },
      },
      response: { 200: { ...grant, properties: { ...grant.properties, spawn: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } } } } }, ...errors },
    },
  }, async (req) => {
    const playerId = await who(req)
    return timed('world_join', () => deps.joinWorld(playerId, req.params.id, req.body.spawn))
  })

  app.post<{ Body: MatchRequest }>('/v1/matchmaking/tickets', {
    schema: {
      tags: ['matchmaking'], summary: 'Queue for a match',
      body: {
        type: 'object', additionalProperties: false, required: ['mode', 'size'],
        properties: { mode: { type: 'string', minLength: 1, maxLength: 64 }, size: { type: 'integer', minimum: 1, maximum: 100 }, attributes: labels },
      },
      response: { 201: ticketStatus, ...errors },
    },
  }, async (req, reply) => {
    const playerId = await who(req)
    return reply.code(201).send(await deps.matchmaker.enqueue(playerId, req.body))
  })

  const ticketParams = { type: 'object', properties: { id }, required: ['id'] } as const
  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>('/v1/matchmaking/tickets/:id', {
    schema: {
      tags: ['matchmaking'], summary: 'A ticket\'s state; `wait` (ms) long-polls until it changes',
      params: ticketParams,
      querystring: { type: 'object', additionalProperties: false, properties: { wait: { type: 'integer', minimum: 0 } } },
      response: { 200: ticketStatus, ...errors },
    },
  }, async (req, reply) => {
    const playerId = await who(req)
    const deadline = Date.now() + Math.min(req.query.wait ?? 0, deps.maxLongPollMs)
    const abort = new AbortController()
    reply.raw.once('close', () => abort.abort())
    for (;;) {
      const s = await deps.matchmaker.status(playerId, req.params.id)
      const left = deadline - Date.now()
      if (s.state === 'matched' || s.state === 'expired' || left <= 0 || abort.signal.aborted) return s
      await deps.matchmaker.waitForChange(req.params.id, left, abort.signal)
    }
  })

  app.get<{ Params: { id: string } }>('/v1/matchmaking/tickets/:id/events', {
    schema: { tags: ['matchmaking'], summary: 'Server-sent `ticket` events until the ticket is matched, expires or is cancelled', params: ticketParams },
  }, async (req, reply) => {
    const playerId = await who(req)
    const first = await deps.matchmaker.status(playerId, req.params.id)
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    let last = ''
    let closed = false
    const write = (s: MatchTicketStatus) => {
      const data = JSON.stringify(s)
      if (data === last || closed) return
      last = data
      raw.write(`event: ticket\ndata: ${data}\n\n`)
    }
    const finish = () => {
      if (closed) return
      closed = true
      unsubscribe()
      clearInterval(expiry)
      raw.end()
    }
    const push = () => {
      deps.matchmaker.status(playerId, req.params.id).then((s) => {
        write(s)
        if (s.state === 'matched' || s.state === 'expired') finish()
      }, (err: unknown) => {
        const e = err as { code?: unknown; message?: unknown }
        if (!closed) raw.write(`event: error\ndata: ${JSON.stringify({ error: { code: e.code ?? 'internal', message: String(e.message ?? '') } })}\n\n`)
        finish()
      })
    }
    const unsubscribe = deps.matchmaker.subscribe(req.params.id, push)
    // Expiry is not a store change: look again every second.
    const expiry = setInterval(push, 1_000)
    raw.once('close', finish)
    write(first)
    if (first.state === 'matched' || first.state === 'expired') finish()
  })

  app.delete<{ Params: { id: string } }>('/v1/matchmaking/tickets/:id', {
    schema: { tags: ['matchmaking'], summary: 'Leave the queue', params: ticketParams, response: { 204: { type: 'null' }, ...errors } },
  }, async (req, reply) => {
    const playerId = await who(req)
    await deps.matchmaker.cancel(playerId, req.params.id)
    return reply.code(204).send()
  })

  app.get('/v1/players/online', {
    schema: { tags: ['players'], summary: 'Players connected to a worker now (sessions)', response: { 200: { type: 'object', properties: { online: { type: 'integer' } }, required: ['online'] } } },
  }, async () => deps.playersOnline())
}
