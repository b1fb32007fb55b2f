/**
 * A player's connection to a runner, in memory: what was sent on it (snapshots picked out), and a
 * way to close it from the client's side.
 */
import type { TicketClaims } from '../../core/tickets.ts'
import { decodeControlMessage, encodeControlMessage } from '../../core/wire/control-messages.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import { ControlStream } from '../../core/wire/control-stream.ts'
import { isDecodeError } from '../../core/wire/errors.ts'
import { encodeControlDatagram } from '../../core/wire/messages.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import type { ClientConnection } from '../../worker/transport/client-connection.ts'

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
  const controls = (): ControlMessage[] => {
    const stream = new ControlStream()
    // Frames sent after the client said something acknowledge it: a stream that has "sent" as
    // much takes them (it refuses acknowledgements of messages it never sent).
    for (let i = 0; i < 256; i++) stream.send(new Uint8Array(0))
    const out: ControlMessage[] = []
    for (const b of sent) {
      if (b[0] !== Protocol.serverOp.CONTROL) continue
      const payloads = stream.receive(b.subarray(1))
      if (isDecodeError(payloads)) continue
      for (const p of payloads) {
        const m = decodeControlMessage(p)
        if (!isDecodeError(m)) out.push(m)
      }
    }
    return out
  }
  /** A control message from the client, over its own reliable stream, as the player library sends one. */
  const clientStream = new ControlStream()
  const say = (message: ControlMessage) => {
    clientStream.send(encodeControlMessage(message))
    for (let f = clientStream.poll(0); f; f = clientStream.poll(0)) for (const l of listeners) l(encodeControlDatagram('client', f))
  }
  return { conn, sent, state, controls, say, snapshots: () => sent.filter((b) => b[0] === Protocol.serverOp.SNAPSHOT), close }
}
