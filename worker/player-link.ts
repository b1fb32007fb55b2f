/**
 * One connected player on one partition: the raw datagrams in (inputs, acks, control frames, pings)
 * and out (snapshots, control frames, pongs). Control messages go through our own reliable, ordered
 * stream because the channel itself is unreliable and unordered.
 */
import { ControlStream } from '../core/wire/control-stream.ts'
import { decodeControlMessage, encodeControlMessage } from '../core/wire/control-messages.ts'
import type { ControlMessage } from '../core/wire/control-messages.ts'
import { isDecodeError } from '../core/wire/errors.ts'
import { decodeClientDatagram, encodeControlDatagram, encodePong } from '../core/wire/messages.ts'
import { Protocol } from '../core/wire/protocol.ts'
import type { ErrorCodeName } from '../core/wire/protocol.ts'
import type { InputPacket } from '../core/wire/input-codec.ts'
import type { ClientConnection } from './transport/geckos-server.ts'
import type { TicketClaims } from '../core/tickets.ts'

export interface PlayerLinkEvents {
  input(packet: InputPacket): void
  ack(tick: number): void
  /** A datagram that does not decode; counted, and the client is dropped after too many. */
  malformed(reason: string): void
  control(message: ControlMessage): void
}

/** Malformed datagrams tolerated before the client is closed as broken. */
const MAX_MALFORMED = 50

export class PlayerLink {
  readonly control = new ControlStream()
  private malformedCount = 0

  constructor(
    readonly conn: ClientConnection<TicketClaims>,
    private readonly events: PlayerLinkEvents,
    private readonly tick: () => number,
  ) {
    conn.onMessage((bytes) => this.receive(bytes))
  }

  get playerId(): string {
    return this.conn.principal.playerId
  }

  /** Queue a control message; it is sent (and resent until acknowledged) by `flush`. */
  sendControl(message: ControlMessage, nowMs: number): void {
    if (!this.control.send(encodeControlMessage(message))) {
      // A client that acknowledges nothing while we keep talking to it is gone or hostile.
      this.conn.close(Protocol.closeCode.protocol_error)
      return
    }
    this.flush(nowMs)
  }

  /** Send due control frames (first sends and resends). Called every tick. */
  flush(nowMs: number): void {
    for (let frame = this.control.poll(nowMs); frame; frame = this.control.poll(nowMs)) {
      this.conn.sendRaw(encodeControlDatagram('server', frame))
    }
  }

  /**
   * Send one snapshot datagram as the simulation encoded it: the encoder writes the SNAPSHOT opcode
   * itself, so the bytes go out untouched (prefixing another opcode made every snapshot undecodable).
   */
  sendSnapshot(bytes: Uint8Array): boolean {
    return this.conn.sendRaw(bytes)
  }

  /** Say why the session ends, then close after the message had a moment to arrive. */
  end(message: ControlMessage, code: number, nowMs: number): void {
    this.sendControl(message, nowMs)
    const timer = setTimeout(() => this.conn.close(code), 100)
    timer.unref()
  }

  private receive(bytes: Uint8Array): void {
    const msg = decodeClientDatagram(bytes)
    if (isDecodeError(msg)) {
      this.events.malformed(msg.code)
      if (++this.malformedCount > MAX_MALFORMED) this.conn.close(Protocol.closeCode.protocol_error)
      return
    }
    switch (msg.type) {
      case 'input':
        this.events.input(msg)
        return
      case 'ack':
        this.events.ack(msg.ackTick)
        return
      case 'ping':
        this.conn.sendRaw(encodePong({ nonce: msg.nonce, clientTimeMs: msg.clientTimeMs, serverTick: this.tick() }))
        return
      case 'control': {
        const delivered = this.control.receive(msg.frame)
        if (isDecodeError(delivered)) {
          this.events.malformed(delivered.code)
          return
        }
        for (const payload of delivered) {
          const message = decodeControlMessage(payload)
          if (isDecodeError(message)) this.events.malformed(message.code)
          else this.events.control(message)
        }
        return
      }
    }
  }
}

const ignoreEvents: PlayerLinkEvents = { input: () => undefined, ack: () => undefined, malformed: () => undefined, control: () => undefined }

/**
 * Turn a connection away: tell the client why over the control stream (an `error` it can show),
 * then close. Used for connections that never become a player of a partition.
 */
export function refusePlayer(conn: ClientConnection<TicketClaims>, code: ErrorCodeName, message: string, nowMs: number): void {
  new PlayerLink(conn, ignoreEvents, () => 0).end({ kind: 'error', code, message }, Protocol.closeCode.going_away, nowMs)
}
