/**
 * Admission of player connections: the transport hands us the ticket before any peer connection
 * exists; we verify its signature and expiry and route the channel to the in-process worker the
 * ticket names. One process may host several workers (embedded mode), so the worker id is read from
 * the ticket first and the signature check then binds the ticket to exactly that worker.
 */
import { decodeJwt } from 'jose'
import type { PublicKeys, TicketClaims } from '../core/tickets.ts'
import { verifyTicket } from '../core/tickets.ts'
import type { AuthResult } from './transport/geckos-server.ts'

export function ticketAdmission(
  publicKeys: () => PublicKeys,
  hosts: (workerId: string) => boolean,
): (token: string) => Promise<AuthResult<TicketClaims>> {
  return async (token) => {
    let workerId: unknown
    try {
      workerId = decodeJwt(token)['wrk']
    } catch {
      return { ok: false, status: 401, code: 'bad_ticket' }
    }
    if (typeof workerId !== 'string' || !hosts(workerId)) return { ok: false, status: 403, code: 'wrong_world' }
    const claims = await verifyTicket(publicKeys(), token, { workerId })
    if ('kind' in claims) return { ok: false, status: claims.code === 'wrong_world' ? 403 : 401, code: claims.code }
    return { ok: true, route: workerId, principal: claims }
  }
}
