/** The gateway's ticket signer produces tickets workers accept with `verifyTicket`, and only those. */
import { describe, expect, it } from 'vitest'
import { generateTicketKeys, verifyTicket } from '../../core/tickets.ts'
import { GrantSigner } from '../../gateway/grants.ts'

describe('gateway tickets', () => {
  it('are accepted by verifyTicket with every claim, and refused when expired, forged or for another worker', async () => {
    const keys = await generateTicketKeys()
    const other = await generateTicketKeys()
    const signer = new GrantSigner({ privateKey: keys.privateKey, kid: 'k1' }, 30)
    const now = Date.now()
    const grant = await signer.grant('alice', { worldId: 'r1', roomId: 'r1', workerId: 'w1', clientUrl: 'http://w1', partitionId: 'p0', epoch: 2 }, now)
    expect(grant).toMatchObject({ workerUrl: 'http://w1', workerId: 'w1', worldId: 'r1', partitionId: 'p0', epoch: 2 })
    expect(grant.expiresAt).toBe((Math.floor(now / 1000) + 30) * 1000)
    const publicKeys = new Map([['k1', keys.publicKey]])
    expect(await verifyTicket(publicKeys, grant.ticket, { workerId: 'w1', worldId: 'r1', now })).toMatchObject({
      playerId: 'alice', worldId: 'r1', workerId: 'w1', partitionId: 'p0', roomId: 'r1',
    })
    expect(await verifyTicket(publicKeys, grant.ticket, { workerId: 'w1', now: now + 60_000 })).toMatchObject({ code: 'expired_ticket' })
    expect(await verifyTicket(publicKeys, grant.ticket, { workerId: 'w2', now })).toMatchObject({ code: 'wrong_world' })
    const forged = await new GrantSigner({ privateKey: other.privateKey, kid: 'k1' }, 30).ticket('alice', { worldId: 'r1', workerId: 'w1', clientUrl: '', partitionId: 'p0', epoch: 1 }, now)
    expect(await verifyTicket(publicKeys, forged, { workerId: 'w1', now })).toMatchObject({ code: 'bad_ticket' })
    const world = await signer.ticket('bob', { worldId: 'big', workerId: 'w2', clientUrl: '', partitionId: 'p3', epoch: 1 }, now)
    expect(await verifyTicket(publicKeys, world, { workerId: 'w2', now })).toMatchObject({ playerId: 'bob', roomId: null, partitionId: 'p3' })
  })
})
