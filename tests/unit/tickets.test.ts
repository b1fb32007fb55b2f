import { describe, expect, it } from 'vitest'
import {
  TicketError,
  exportKeyJwk,
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateTicketKeys,
  importKeyJwk,
  importPrivateKeyPem,
  importPublicKeys,
  issueTicket,
  verifyTicket,
} from '../../core/tickets.ts'

const base = { playerId: 'alice', worldId: 'w1', workerId: 'worker-a', partitionId: 'p1', kid: 'k1' }

describe('tickets', async () => {
  const keys = await generateTicketKeys()
  const publicKeys = new Map([['k1', keys.publicKey]])

  it('accepts a valid ticket and returns its claims', async () => {
    const token = await issueTicket(keys.privateKey, base)
    const claims = await verifyTicket(publicKeys, token, { workerId: 'worker-a', worldId: 'w1' })
    expect(claims).toMatchObject({ playerId: 'alice', worldId: 'w1', workerId: 'worker-a', partitionId: 'p1', roomId: null })
    if (claims instanceof TicketError) throw new Error(claims.message)
    expect(claims.expiresAt - claims.issuedAt).toBe(30)
  })

  it('carries a standby ticket\'s mark and its signing worker; a plain ticket has neither', async () => {
    const plain = await verifyTicket(publicKeys, await issueTicket(keys.privateKey, base), { workerId: 'worker-a' })
    expect(plain).toMatchObject({ standby: false, issuer: null })
    const { partitionId: _, ...noPartition } = base
    const standby = await verifyTicket(publicKeys, await issueTicket(keys.privateKey, { ...noPartition, standby: true, issuer: 'worker-b' }), { workerId: 'worker-a' })
    expect(standby).toMatchObject({ playerId: 'alice', workerId: 'worker-a', partitionId: null, standby: true, issuer: 'worker-b' })
    // A forged standby mark breaks the signature like any other claim.
    const token = await issueTicket(keys.privateKey, base)
    const [h, p, sig] = token.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>
    claims.sby = true
    const tampered = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.')
    expect(await verifyTicket(publicKeys, tampered, { workerId: 'worker-a' })).toMatchObject({ code: 'bad_ticket' })
  })

  it('refuses a forged ticket (other key, tampered payload, junk) as bad_ticket', async () => {
    const other = await generateTicketKeys()
    const forged = await issueTicket(other.privateKey, base)
    expect(await verifyTicket(publicKeys, forged, { workerId: 'worker-a' })).toMatchObject({ code: 'bad_ticket' })

    const token = await issueTicket(keys.privateKey, base)
    const [h, p, s] = token.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>
    claims.sub = 'mallory'
    const tampered = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.')
    expect(await verifyTicket(publicKeys, tampered, { workerId: 'worker-a' })).toMatchObject({ code: 'bad_ticket' })

    const unknownKid = await issueTicket(keys.privateKey, { ...base, kid: 'k9' })
    expect(await verifyTicket(publicKeys, unknownKid, { workerId: 'worker-a' })).toMatchObject({ code: 'bad_ticket' })
    for (const junk of ['', 'a.b.c', 'x'.repeat(5000), 'eyJhbGciOiJub25lIn0.e30.']) {
      expect(await verifyTicket(publicKeys, junk, { workerId: 'worker-a' })).toMatchObject({ code: 'bad_ticket' })
    }
  })

  it('refuses an expired ticket as expired_ticket', async () => {
    const now = Date.UTC(2030, 0, 1)
    const token = await issueTicket(keys.privateKey, { ...base, ttlSeconds: 10, now })
    expect(await verifyTicket(publicKeys, token, { workerId: 'worker-a', now: now + 5_000 })).not.toBeInstanceOf(TicketError)
    expect(await verifyTicket(publicKeys, token, { workerId: 'worker-a', now: now + 60_000 })).toMatchObject({ code: 'expired_ticket' })
  })

  it('refuses a ticket for another worker or world as wrong_world', async () => {
    const token = await issueTicket(keys.privateKey, base)
    expect(await verifyTicket(publicKeys, token, { workerId: 'worker-b' })).toMatchObject({ code: 'wrong_world' })
    expect(await verifyTicket(publicKeys, token, { workerId: 'worker-a', worldId: 'w2' })).toMatchObject({ code: 'wrong_world' })
  })

  it('exports and imports keys as PEM and JWK', async () => {
    const privPem = await exportPrivateKeyPem(keys.privateKey)
    const pubPem = await exportPublicKeyPem(keys.publicKey)
    expect(privPem).toContain('BEGIN PRIVATE KEY')
    const imported = await importPublicKeys({ k2: pubPem })
    const token = await issueTicket(await importPrivateKeyPem(privPem), { ...base, kid: 'k2', roomId: 'r7' })
    expect(await verifyTicket(imported, token, { workerId: 'worker-a' })).toMatchObject({ roomId: 'r7' })
    const jwk = await exportKeyJwk(keys.publicKey)
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    const fromJwk = await importKeyJwk(jwk)
    // Signed under kid k2, offered to a worker that only knows k1.
    expect(await verifyTicket(new Map([['k1', fromJwk]]), token, { workerId: 'worker-a' })).toMatchObject({ code: 'bad_ticket' })
    const t1 = await issueTicket(keys.privateKey, base)
    expect(await verifyTicket(new Map([['k1', fromJwk]]), t1, { workerId: 'worker-a' })).toMatchObject({ playerId: 'alice' })
  })
})
