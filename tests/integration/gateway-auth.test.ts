/**
 * The gateway's edge: player identity from JWTs verified with a local key or JWKS (forged, expired
 * and missing tokens are refused with `unauthorized`), and per-client rate limits (`rate_limited`)
 * that spare the ops endpoints. No coordinator is needed for these routes.
 */
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose'
import type { CryptoKey } from 'jose'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { Gateway } from '../../gateway/gateway.ts'
import { jwtIdentity } from '../../gateway/identity.ts'
import { gatewayOptions } from '../../gateway/options.ts'

async function call<T = unknown>(gw: Gateway, method: string, path: string, player?: string, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...headers }
  if (player !== undefined) h['x-player-id'] = player
  if (body !== undefined) h['content-type'] = 'application/json'
  const res = await fetch(`${gw.address}${path}`, { method, headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T & { error?: { code: string; message: string } } }
}

describe('gateway identity and rate limits', () => {
  let trusted: { privateKey: CryptoKey; publicKey: CryptoKey }
  let forger: { privateKey: CryptoKey; publicKey: CryptoKey }
  let running: { stop(): Promise<void> }[] = []

  beforeAll(async () => {
    trusted = await generateKeyPair('ES256')
    forger = await generateKeyPair('ES256')
  })
  afterEach(async () => {
    for (const r of running.reverse()) await r.stop()
    running = []
  })

  async function start(options: Parameters<typeof gatewayOptions>[0], identify?: Awaited<ReturnType<typeof jwtIdentity>>): Promise<Gateway> {
    const store = new MemoryStore()
    const g = new Gateway(store, scopedKeys('/auth/'), gatewayOptions({ id: 'g', port: 0, logLevel: 'silent', ...options }), silentLogger(), identify ? { identify } : {})
    await g.start()
    running.push(g, { stop: () => store.close() })
    return g
  }

  const token = (key: CryptoKey, sub: string, expiresIn = '1m', extra: { iss?: string } = {}) => {
    const t = new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'players' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn)
    if (extra.iss) t.setIssuer(extra.iss)
    return t.sign(key)
  }
  const bearer = async (t: Promise<string>) => ({ authorization: `Bearer ${await t}` })

  it('accepts tokens from the configured public key and refuses forged, expired and missing ones', async () => {
    const g = await start({ identity: 'jwt', jwtPublicKey: await exportSPKI(trusted.publicKey), jwtIssuer: 'tessera-test' })
    expect((await call(g, 'GET', '/v1/rooms', undefined, undefined, await bearer(token(trusted.privateKey, 'alice', '1m', { iss: 'tessera-test' })))).status).toBe(200)
    const forged = await call(g, 'GET', '/v1/rooms', undefined, undefined, await bearer(token(forger.privateKey, 'alice', '1m', { iss: 'tessera-test' })))
    expect(forged).toMatchObject({ status: 401, body: { error: { code: 'unauthorized', message: 'invalid token' } } })
    const expired = await call(g, 'GET', '/v1/rooms', undefined, undefined, await bearer(token(trusted.privateKey, 'alice', '-10s', { iss: 'tessera-test' })))
    expect(expired).toMatchObject({ status: 401, body: { error: { code: 'unauthorized', message: 'token expired' } } })
    const wrongIssuer = await call(g, 'GET', '/v1/rooms', undefined, undefined, await bearer(token(trusted.privateKey, 'alice')))
    expect(wrongIssuer.status).toBe(401)
    // The development header means nothing to a JWT gateway.
    expect((await call(g, 'GET', '/v1/rooms', 'alice')).body.error?.code).toBe('unauthorized')
    expect((await call(g, 'GET', '/v1/rooms', undefined, undefined, { authorization: 'Bearer not.a.jwt' })).status).toBe(401)
  })

  it('verifies against a local JWKS and uses the subject as the player id', async () => {
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'players', alg: 'ES256' }
    const g = await start({}, await jwtIdentity({ jwks: { keys: [jwk] } }))
    const headers = await bearer(token(trusted.privateKey, 'bob'))
    const queued = await call<{ ticketId: string }>(g, 'POST', '/v1/matchmaking/tickets', undefined, { mode: 'duel', size: 2 }, headers)
    expect(queued.status).toBe(201)
    // Only bob (the token's subject) may read his ticket.
    expect((await call(g, 'GET', `/v1/matchmaking/tickets/${queued.body.ticketId}`, undefined, undefined, headers)).status).toBe(200)
    const carol = await bearer(token(trusted.privateKey, 'carol'))
    expect((await call(g, 'GET', `/v1/matchmaking/tickets/${queued.body.ticketId}`, undefined, undefined, carol)).body.error?.code).toBe('unknown_ticket')
    expect((await call(g, 'GET', '/v1/rooms', undefined, undefined, await bearer(token(forger.privateKey, 'bob')))).status).toBe(401)
  })

  it('rate-limits each client separately and never the ops endpoints', async () => {
    const g = await start({ rateLimitMax: 5, rateLimitWindowMs: 60_000 })
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(g, 'GET', '/v1/rooms', 'flooder')))
    expect(answers.filter((r) => r.status === 200)).toHaveLength(5)
    const limited = answers.filter((r) => r.status !== 200)
    expect(limited).toHaveLength(3)
    for (const r of limited) expect(r).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } })
    expect((await call(g, 'GET', '/v1/rooms', 'polite')).status).toBe(200)
    for (let i = 0; i < 10; i++) expect((await call(g, 'GET', '/healthz')).status).toBe(200)
    expect((await call(g, 'POST', '/v1/rooms', 'bad id!')).body.error?.code).toBe('malformed')
  })
})
