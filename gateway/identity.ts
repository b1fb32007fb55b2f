/**
 * Who is asking: a pluggable hook from a request to a player id. The default suits development
 * (the `x-player-id` header, or a fresh anonymous id); production verifies a JWT with `jose`, from a
 * local public key or JWKS (no network needed) or a remote JWKS URL.
 */
import { randomBytes } from 'node:crypto'
import { createLocalJWKSet, createRemoteJWKSet, importSPKI, jwtVerify } from 'jose'
import type { JSONWebKeySet, JWTVerifyGetKey, CryptoKey } from 'jose'
import { GatewayError } from './errors.ts'

/** The request fields an identity hook may look at. */
export interface IdentityRequest {
  headers: Record<string, string | string[] | undefined>
}

export type Identify = (request: IdentityRequest) => Promise<{ playerId: string }>

const PLAYER_ID = /^[A-Za-z0-9_.:-]{1,64}$/

function header(request: IdentityRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Development identity: trusts `x-player-id` (1-64 URL-safe characters) or makes an anonymous id. */
export function anonymousIdentity(): Identify {
  return async (request) => {
    const given = header(request, 'x-player-id')
    if (given === undefined) return { playerId: `anon-${randomBytes(6).toString('base64url')}` }
    if (!PLAYER_ID.test(given)) throw new GatewayError('malformed', 'x-player-id must be 1-64 characters of A-Z a-z 0-9 _ . : -')
    return { playerId: given }
  }
}

export interface JwtIdentityOptions {
  /** An SPKI PEM public key. */
  publicKeyPem?: string
  /** A JSON Web Key Set held locally. */
  jwks?: JSONWebKeySet
  /** A remote JWKS URL (fetched and cached by `jose`). */
  jwksUrl?: string
  issuer?: string
  audience?: string
  /** Accepted algorithms for a PEM key. Default `['RS256', 'ES256', 'EdDSA']` (the first that imports). */
  algorithm?: string
}

/** Production identity: `Authorization: Bearer <jwt>`; the player id is the token's `sub`. */
export async function jwtIdentity(options: JwtIdentityOptions): Promise<Identify> {
  let key: CryptoKey | JWTVerifyGetKey
  if (options.jwks) key = createLocalJWKSet(options.jwks)
  else if (options.jwksUrl) key = createRemoteJWKSet(new URL(options.jwksUrl))
  else if (options.publicKeyPem) key = await importPem(options.publicKeyPem, options.algorithm)
  else throw new Error('jwt identity needs a public key, a JWKS or a JWKS URL')
  const verifyOptions: { issuer?: string; audience?: string } = {}
  if (options.issuer) verifyOptions.issuer = options.issuer
  if (options.audience) verifyOptions.audience = options.audience
  return async (request) => {
    const auth = header(request, 'authorization')
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : undefined
    if (!token) throw new GatewayError('unauthorized', 'missing bearer token')
    try {
      const { payload } = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions)
      if (typeof payload.sub !== 'string' || !PLAYER_ID.test(payload.sub)) throw new GatewayError('unauthorized', 'token subject is not a valid player id')
      return { playerId: payload.sub }
    } catch (err) {
      if (err instanceof GatewayError) throw err
      const code = (err as { code?: unknown }).code
      throw new GatewayError('unauthorized', code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token')
    }
  }
}

async function importPem(pem: string, algorithm: string | undefined): Promise<CryptoKey> {
  const candidates = algorithm ? [algorithm] : ['EdDSA', 'ES256', 'RS256']
  let last: unknown
  for (const alg of candidates) {
    try {
      return await importSPKI(pem, alg)
    } catch (err) {
      last = err
    }
  }
  throw new Error(`cannot import the JWT public key: ${String(last)}`)
}
