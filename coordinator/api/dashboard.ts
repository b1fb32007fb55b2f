/**
 * The web dashboard's static files, served at `/` by the coordinator. The dashboard is built
 * separately; until it is, `/` says so instead of answering a bare 404.
 */
import { existsSync, statSync } from 'node:fs'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

const notBuiltMessage = 'The web dashboard is not built; the operator API is at /api/v1 (see /api/v1/openapi.json).'

const notBuiltHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera coordinator</title></head>
<body><h1>Tessera coordinator</h1>
<p>The web dashboard is not built. The operator API is at <a href="/api/v1/cluster">/api/v1</a>;
its description is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p></body></html>
`

/** Serves `dashboardDir` at `/` when it is an existing directory, else a note at `/`. */
export async function registerDashboard(app: FastifyInstance, dashboardDir: string | undefined): Promise<void> {
  if (dashboardDir !== undefined && existsSync(dashboardDir) && statSync(dashboardDir).isDirectory()) {
    // Missing files fall through to the not-found handler, so they get the API's JSON 404.
    await app.register(fastifyStatic, { root: dashboardDir, prefix: '/', index: ['index.html'] })
    return
  }
  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    const wantsHtml = (req.headers.accept ?? '').includes('text/html')
    if (wantsHtml) return reply.type('text/html; charset=utf-8').send(notBuiltHtml)
    return reply.send({ dashboard: false, message: notBuiltMessage })
  })
}
