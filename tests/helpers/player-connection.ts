/**
 * A player's connection to a runner, in memory: what was sent on it (snapshots picked out), and a
 * way to close it from the client's side.
 */
import type { TicketClaims } from '../../core/tickets.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import type { ClientConnection } from '../../worker/transport/client-connection.ts'

export function playerConnection(playerId: string, at: { workerId?: string; partitionId?: string } = {}) {
  const sent: Uint8Array[] = []
  const closers: Array<() => void> = []
  const conn: ClientConnection<TicketClaims> = {
    id: `c-${playerId}`, route: at.workerId ?? 'wA', rttMs: undefined, open: true,
    principal: { playerId, worldId: 'w', workerId: at.workerId ?? 'wA', partitionId: at.partitionId ?? 'p1', roomId: null, ticketId: `t-${playerId}`, issuedAt: 0, expiresAt: 0 },
    sendRaw: (bytes) => (sent.push(bytes.slice()), true),
    onMessage: () => undefined,
    onClose: (listener) => void closers.push(() => listener('client-closed', undefined)),
    close: () => undefined,
  }
  return { conn, sent, snapshots: () => sent.filter((b) => b[0] === Protocol.serverOp.SNAPSHOT), close: () => closers.forEach((c) => c()) }
}
