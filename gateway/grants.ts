/**
 * Signing join tickets into the grant every join answers with.
 *
 * Tickets are the JWTs `core/tickets.ts` describes (EdDSA, claims `sub wid wrk pid rid jti iat exp`,
 * header `kid`), which workers check with `verifyTicket`. The join path signs one ticket per request,
 * so the gateway signs with node's Ed25519 directly, on libuv's thread pool: `jose`'s WebCrypto path
 * cost more than half a join, and signing on the event loop would bound joins to one core.
 */
import { KeyObject, randomUUID, sign } from 'node:crypto'
import type { JoinGrant } from '../core/api/gateway.ts'
import type { SigningKey } from './ticket-keys.ts'

export interface GrantTarget {
  worldId: string
  workerId: string
  clientUrl: string
  partitionId: string
  epoch: number
  roomId?: string
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

export class GrantSigner {
  private readonly key: KeyObject
  private readonly header: string

  constructor(
    signingKey: SigningKey,
    /** Ticket lifetime, seconds. */
    private readonly ttlSeconds: number,
  ) {
    this.key = KeyObject.from(signingKey.privateKey)
    if (this.key.asymmetricKeyType !== 'ed25519') throw new TypeError('the ticket signing key must be an Ed25519 private key')
    this.header = b64({ alg: 'EdDSA', kid: signingKey.kid, typ: 'JWT' })
  }

  /** A signed ticket for `playerId` to present to `target.workerId`, as a JWT. */
  ticket(playerId: string, target: GrantTarget, now: number): Promise<string> {
    const iat = Math.floor(now / 1000)
    const claims: Record<string, string | number> = { wid: target.worldId, wrk: target.workerId, pid: target.partitionId }
    if (target.roomId !== undefined) claims.rid = target.roomId
    claims.sub = playerId
    claims.jti = randomUUID()
    claims.iat = iat
    claims.exp = iat + this.ttlSeconds
    const input = `${this.header}.${b64(claims)}`
    return new Promise((resolve, reject) => {
      sign(null, Buffer.from(input), this.key, (err, signature) => (err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`)))
    })
  }

  async grant(playerId: string, target: GrantTarget, now: number): Promise<JoinGrant> {
    return {
      workerUrl: target.clientUrl, ticket: await this.ticket(playerId, target, now), expiresAt: (Math.floor(now / 1000) + this.ttlSeconds) * 1000,
      workerId: target.workerId, worldId: target.worldId, partitionId: target.partitionId, epoch: target.epoch,
    }
  }
}
