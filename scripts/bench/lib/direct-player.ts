/**
 * A player connection without WebRTC: the worker's `ClientConnection` interface implemented in
 * memory, so a benchmark or test drives a player's datagrams (inputs in, snapshots and control
 * frames out) directly, in the worker's own process. It numbers its inputs like the player library
 * (each packet repeats the last few), decodes snapshots and control messages, and records when each
 * snapshot arrived.
 */
import type { TicketClaims } from '../../../core/tickets.ts'
import { ControlStream } from '../../../core/wire/control-stream.ts'
import { decodeControlMessage, encodeControlMessage } from '../../../core/wire/control-messages.ts'
import type { ControlMessage } from '../../../core/wire/control-messages.ts'
import { isDecodeError } from '../../../core/wire/errors.ts'
import { encodeInputPacket } from '../../../core/wire/input-codec.ts'
import type { InputRecord } from '../../../core/wire/input-codec.ts'
import { decodeServerDatagram, encodeControlDatagram } from '../../../core/wire/messages.ts'
import { SnapshotReceiver } from '../../../core/wire/snapshot-receiver.ts'
import type { ClientConnection } from '../../../worker/transport/client-connection.ts'
import { MemoryConnection } from './memory-connection.ts'

export class DirectPlayer {
  readonly conn: ClientConnection<TicketClaims>
  readonly control: ControlMessage[] = []
  /** Its own entity is all it reads: no per-entity change lists (they would be the bench's own garbage). */
  readonly receiver = new SnapshotReceiver({ changes: false })
  joinedEntity: number | undefined
  snapshots = 0
  ackInputSeq = 0
  ackRegressions = 0
  /** Largest step between consecutive snapshot ticks (1 = none missed). */
  maxTickGap = 0
  /** performance.now() of every snapshot applied. */
  readonly arrivals: number[] = []
  seq = 0
  private lastTick: number | undefined
  private readonly stream = new ControlStream()
  private readonly history: InputRecord[] = []
  private readonly link: MemoryConnection

  /**
   * `noStandby`: once joined, tell the worker this player opens no standby connections (as the
   * player library does with `standby: false`), so it is sent no `prepare` and its crossings do not
   * wait for one.
   */
  constructor(
    claims: Pick<TicketClaims, 'playerId' | 'worldId' | 'workerId'> & { partitionId?: string },
    private readonly options: { noStandby?: boolean } = {},
  ) {
    const principal: TicketClaims = {
      ...claims, partitionId: claims.partitionId ?? null, roomId: null, standby: false, issuer: null, ticketId: `direct-${claims.playerId}`, issuedAt: 0, expiresAt: 0,
    }
    this.link = new MemoryConnection(`direct-${claims.playerId}`, principal, (bytes) => this.receive(bytes))
    this.conn = this.link.conn
  }

  /** Continue another connection's input numbering (a client that migrated keeps its sequence). */
  continueFrom(seq: number): void {
    this.seq = seq
  }

  /** Send one new input (axes -1..1), repeating the last three. */
  walk(moveX: number, moveY = 0): void {
    this.seq++
    this.history.unshift({ seq: this.seq, tick: this.seq, moveX: Math.round(moveX * 127), moveY: Math.round(moveY * 127), buttons: 0 })
    this.history.length = Math.min(this.history.length, 4)
    this.link.send(encodeInputPacket({ ackTick: null, inputs: this.history }))
  }

  close(): void {
    this.link.close()
  }

  private receive(bytes: Uint8Array): void {
    const d = decodeServerDatagram(bytes)
    if (isDecodeError(d)) return
    if (d.type === 'snapshot') {
      const r = this.receiver.receive(d.bytes)
      if (isDecodeError(r) || r.kind !== 'applied') return
      this.snapshots++
      this.arrivals.push(performance.now())
      if (r.ackInputSeq < this.ackInputSeq) this.ackRegressions++
      this.ackInputSeq = Math.max(this.ackInputSeq, r.ackInputSeq)
      if (this.lastTick !== undefined) this.maxTickGap = Math.max(this.maxTickGap, r.tick - this.lastTick)
      this.lastTick = r.tick
    } else if (d.type === 'control') {
      const payloads = this.stream.receive(d.frame)
      if (isDecodeError(payloads)) return
      for (const p of payloads) {
        const m = decodeControlMessage(p)
        if (isDecodeError(m)) continue
        this.control.push(m)
        if (m.kind === 'join-accepted') {
          this.joinedEntity = m.entityId
          if (this.options.noStandby) this.stream.send(encodeControlMessage({ kind: 'no-standby' }))
        }
      }
      // Acknowledged (and anything of ours sent) as the player library does, once the worker's
      // own sending is over: the connection delivers synchronously, a network never does.
      queueMicrotask(() => {
        const now = performance.now()
        for (let frame = this.stream.poll(now); frame; frame = this.stream.poll(now)) this.link.send(encodeControlDatagram('client', frame))
      })
    }
  }
}
