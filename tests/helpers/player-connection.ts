/**
 * A player's connection to a runner, in memory: what was sent on it (snapshots and control messages
 * picked out), and ways to send a control message and to close it from the client's side.
 */
import type { TicketClaims } from '../../core/tickets.ts'
import { encodeControlMessage } from '../../core/wire/control-messages.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import { ControlStream } from '../../core/wire/control-stream.ts'
import { encodeControlDatagram } from '../../core/wire/messages.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import type { ClientConnection } from '../../worker/transport/client-connection.ts'
import { controlMessagesOf } from './control-reader.ts'

export function playerConnection(playerId: string, at: { workerId?: string; partitionId?: string | null; standby?: boolean; issuer?: string } = {}) {
  const sent: Uint8Array[] = []
  const closers: Array<() => void> = []
  const listeners: Array<(bytes: Uint8Array) => void> = []
  const state = { open: true, closedWith: undefined as number | undefined }
  const close = () => {
    if (!state.open) return
    state.open = false
    closers.forEach((c) => c())
  }
  const conn: ClientConnection<TicketClaims> = {
    id: `c-${playerId}`, route: at.workerId ?? 'wA', rttMs: undefined,
    get open() {
      return state.open
    },
    principal: {
      playerId, worldId: 'w', workerId: at.workerId ?? 'wA', partitionId: at.partitionId === undefined ? 'p1' : at.partitionId, roomId: null,
      standby: at.standby ?? false, issuer: at.issuer ?? null, ticketId: `t-${playerId}`, issuedAt: 0, expiresAt: 0,
    },
    sendRaw: (bytes) => (sent.push(bytes.slice()), true),
    onMessage: (listener) => void listeners.push(listener),
    onClose: (listener) => void closers.push(() => listener('client-closed', undefined)),
    close: (code) => {
      state.closedWith ??= code
      close()
    },
  }
  /** The control messages sent on it so far, in order (resent frames once). */
  const controls = (): ControlMessage[] => controlMessagesOf(sent.filter((b) => b[0] === Protocol.serverOp.CONTROL).map((b) => b.subarray(1)))
  /** A control message from the client, over its own reliable stream, as the player library sends one. */
  const clientStream = new ControlStream()
  const say = (message: ControlMessage) => {
    clientStream.send(encodeControlMessage(message))
    for (let f = clientStream.poll(0); f; f = clientStream.poll(0)) for (const l of listeners) l(encodeControlDatagram('client', f))
  }
  return { conn, sent, state, controls, say, snapshots: () => sent.filter((b) => b[0] === Protocol.serverOp.SNAPSHOT), close }
}
