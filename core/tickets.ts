/**
 * Join tickets: short-lived Ed25519-signed JWTs (`jose`, alg EdDSA). Gateways sign with a private
 * key; workers verify with the public keys they are configured with, selected by `kid` so keys can
 * be rotated. Verification never throws: it returns the claims or a typed refusal whose `code` is a
 * protocol error code.
 */
import { SignJWT, errors, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importJWK, importPKCS8, importSPKI, jwtVerify, decodeProtectedHeader } from 'jose'
import type { CryptoKey, JWK, JWTPayload } from 'jose'
import { z } from 'zod'

const ALG = 'EdDSA'
/** Default ticket lifetime in seconds. */
export const DEFAULT_TICKET_TTL_SECONDS = 30
/** Clock skew tolerated between gateway and worker, in seconds. */
export const TICKET_CLOCK_TOLERANCE_SECONDS = 5

export interface TicketRequest {
  playerId: string
  worldId: string
  /** The worker that must accept the ticket. */
  workerId: string
  partitionId?: string
  roomId?: string
  /**
   * A standby ticket (signed by a worker for a neighbour): the connection is held without spawning
   * an entity until the player's entity is handed to that worker (`prepare`).
   */
  standby?: boolean
  /** Who signed it, when a worker did (`iss`): a standby connection's worker tells it when it parks one. */
  issuer?: string
  /** Lifetime; default 30 s. */
  ttlSeconds?: number
  /** Key id of the signing key, echoed in the JWT header so workers pick the matching public key. */
  kid: string
  /** Issue time in ms since the epoch (tests); default now. */
  now?: number
}

export interface TicketClaims {
  playerId: string
  worldId: string
  workerId: string
  partitionId: string | null
  roomId: string | null
  /** Held until the player's entity arrives, never spawning one (see `TicketRequest.standby`). */
  standby: boolean
  /** The worker that signed it, if one did (see `TicketRequest.issuer`). */
  issuer: string | null
  /** Unique ticket id, for logs and single-use checks. */
  ticketId: string
  /** Issued-at and expiry, seconds since the epoch. */
  issuedAt: number
  expiresAt: number
}

export type TicketErrorCode = 'bad_ticket' | 'expired_ticket' | 'wrong_world'

export class TicketError {
  readonly kind = 'ticket-error' as const
  constructor(
    readonly code: TicketErrorCode,
    readonly message: string,
  ) {}
}

/** Public keys by `kid`. */
export type PublicKeys = ReadonlyMap<string, CryptoKey>

export interface VerifyOptions {
  /** This worker's id: tickets for another worker are refused as `wrong_world`. */
  workerId: string
  /** If set, the world this connection is for: other worlds are refused as `wrong_world`. */
  worldId?: string
  /** Current time in ms since the epoch (tests); default now. */
  now?: number
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(256),
  wid: z.string().min(1).max(256),
  wrk: z.string().min(1).max(256),
  pid: z.string().min(1).max(256).optional(),
  rid: z.string().min(1).max(256).optional(),
  sby: z.literal(true).optional(),
  iss: z.string().min(1).max(256).optional(),
  jti: z.string().min(1).max(64),
  iat: z.number(),
  exp: z.number(),
})

/** Sign a ticket (gateway side). */
export async function issueTicket(privateKey: CryptoKey, req: TicketRequest): Promise<string> {
  const nowS = Math.floor((req.now ?? Date.now()) / 1000)
  const ttl = req.ttlSeconds ?? DEFAULT_TICKET_TTL_SECONDS
  const payload: JWTPayload & Record<string, string | boolean> = { wid: req.worldId, wrk: req.workerId }
  if (req.partitionId !== undefined) payload.pid = req.partitionId
  if (req.roomId !== undefined) payload.rid = req.roomId
  if (req.standby === true) payload.sby = true
  if (req.issuer !== undefined) payload.iss = req.issuer
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, kid: req.kid, typ: 'JWT' })
    .setSubject(req.playerId)
    .setJti(crypto.randomUUID())
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + ttl)
    .sign(privateKey)
}

/** Verify a ticket (worker side). Never throws. */
export async function verifyTicket(publicKeys: PublicKeys, token: string, options: VerifyOptions): Promise<TicketClaims | TicketError> {
  if (token.length > 4096) return new TicketError('bad_ticket', 'ticket too long')
  let kid: string | undefined
  try {
    kid = decodeProtectedHeader(token).kid
  } catch {
    return new TicketError('bad_ticket', 'not a JWT')
  }
  const key = kid === undefined ? undefined : publicKeys.get(kid)
  if (key === undefined) return new TicketError('bad_ticket', 'unknown signing key')
  let payload: JWTPayload
  try {
    const res = await jwtVerify(token, key, {
      algorithms: [ALG],
      currentDate: new Date(options.now ?? Date.now()),
      clockTolerance: TICKET_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
    })
    payload = res.payload
  } catch (err) {
    if (err instanceof errors.JWTExpired) return new TicketError('expired_ticket', 'ticket expired')
    return new TicketError('bad_ticket', err instanceof errors.JOSEError ? err.code : 'verification failed')
  }
  const parsed = claimsSchema.safeParse(payload)
  if (!parsed.success) return new TicketError('bad_ticket', 'missing or malformed claims')
  const c = parsed.data
  if (c.wrk !== options.workerId) return new TicketError('wrong_world', 'ticket is for another worker')
  if (options.worldId !== undefined && c.wid !== options.worldId) return new TicketError('wrong_world', 'ticket is for another world')
  return {
    playerId: c.sub,
    worldId: c.wid,
    workerId: c.wrk,
    partitionId: c.pid ?? null,
    roomId: c.rid ?? null,
    standby: c.sby === true,
    issuer: c.iss ?? null,
    ticketId: c.jti,
    issuedAt: c.iat,
    expiresAt: c.exp,
  }
}

export interface TicketKeyPair {
  privateKey: CryptoKey
  publicKey: CryptoKey
}

/** A fresh Ed25519 key pair; the private key is extractable so it can be written to config. */
export async function generateTicketKeys(): Promise<TicketKeyPair> {
  return generateKeyPair(ALG, { crv: 'Ed25519', extractable: true })
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return exportPKCS8(key)
}

export async function exportPublicKeyPem(key: CryptoKey): Promise<string> {
  return exportSPKI(key)
}

export async function exportKeyJwk(key: CryptoKey): Promise<JWK> {
  return exportJWK(key)
}

export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  return importPKCS8(pem, ALG)
}

export async function importPublicKeyPem(pem: string): Promise<CryptoKey> {
  return importSPKI(pem, ALG)
}

export async function importKeyJwk(jwk: JWK): Promise<CryptoKey> {
  const key = await importJWK(jwk, ALG)
  if (key instanceof Uint8Array) throw new TypeError('expected an Ed25519 key, got a symmetric secret')
  return key
}

/** Public keys by kid from PEM strings, as config lists them. */
export async function importPublicKeys(entries: Record<string, string>): Promise<Map<string, CryptoKey>> {
  const out = new Map<string, CryptoKey>()
  for (const [kid, pem] of Object.entries(entries)) out.set(kid, await importPublicKeyPem(pem))
  return out
}
