/**
 * The cheapest player that still exercises a worker's whole player path except WebRTC: an
 * in-memory `ClientConnection` that sends one input a tick (repeating the last three, acknowledging
 * the newest snapshot so the worker sends deltas as it does to real clients) and reads only the
 * header of what it receives. Many of them fit in the worker's own process, so a benchmark can load
 * a worker with thousands of players without thousands of WebRTC peers.
 *
 * It walks by a seeded wander behaviour and keeps inside `area` (it turns back near the edge), so a
 * benchmark can keep players on one side of a border. Its position is read from the simulation that
 * holds it (it does not decode snapshots: that is the client's cost, not the worker's).
 */
import type { Rect } from '../../../core/geometry.ts'
import type { TicketClaims } from '../../../core/tickets.ts'
import { ByteWriter } from '../../../core/wire/bytes.ts'
import { isDecodeError } from '../../../core/wire/errors.ts'
import { encodeInputPacket } from '../../../core/wire/input-codec.ts'
import type { InputRecord } from '../../../core/wire/input-codec.ts'
import { decodeServerDatagram } from '../../../core/wire/messages.ts'
import { readSnapshotHeader } from '../../../core/wire/snapshot-codec.ts'
import type { ClientConnection } from '../../../worker/transport/client-connection.ts'
import { MemoryConnection } from './memory-connection.ts'
import { seededRandom } from '../../bots/behaviours.ts'

/** Turn back this far inside the area's edge. */
const MARGIN = 3
/** Inputs per packet: the newest and the last three again. */
const REPEATED = 4

export class LightPlayer {
  readonly conn: ClientConnection<TicketClaims>
  /** Snapshots received since the counter was last reset. */
  snapshots = 0
  private lastTick: number | null = null
  private seq = 0
  private readonly history: InputRecord[] = []
  private readonly writer = new ByteWriter(64)
  private readonly link: MemoryConnection
  private readonly random: () => number
  private dir = { x: 0, y: 0 }
  private turnIn = 0

  constructor(
    claims: Pick<TicketClaims, 'playerId' | 'worldId' | 'workerId' | 'partitionId'>,
    private readonly area: Rect,
    seed: number,
  ) {
    this.random = seededRandom(seed)
    const principal: TicketClaims = { ...claims, roomId: null, standby: false, issuer: null, ticketId: `light-${claims.playerId}`, issuedAt: 0, expiresAt: 0 }
    this.link = new MemoryConnection(`light-${claims.playerId}`, principal, (bytes) => this.receive(bytes))
    this.conn = this.link.conn
  }

  /** One input: wander, turning back near the area's edge. `at` is where its entity stands now. */
  step(at: { x: number; y: number } | undefined): void {
    if (this.turnIn-- <= 0) {
      const a = this.random() * 2 * Math.PI
      this.dir = { x: Math.cos(a), y: Math.sin(a) }
      this.turnIn = 20 + Math.floor(this.random() * 41)
    }
    if (at) {
      const a = this.area
      if (at.x < a.minX + MARGIN) this.dir.x = Math.abs(this.dir.x)
      if (at.x > a.maxX - MARGIN) this.dir.x = -Math.abs(this.dir.x)
      if (at.y < a.minY + MARGIN) this.dir.y = Math.abs(this.dir.y)
      if (at.y > a.maxY - MARGIN) this.dir.y = -Math.abs(this.dir.y)
    }
    this.seq++
    // The oldest record is reused for the newest, and the packet written into one buffer (copied
    // out by `encodeInputPacket`): thousands of these run in the worker's process, on its CPU.
    const rec = this.history.length < REPEATED ? { seq: 0, tick: 0, moveX: 0, moveY: 0, buttons: 0 } : (this.history.pop() as InputRecord)
    rec.seq = this.seq
    rec.tick = this.seq
    rec.moveX = Math.round(this.dir.x * 127)
    rec.moveY = Math.round(this.dir.y * 127)
    this.history.unshift(rec)
    this.link.send(encodeInputPacket({ ackTick: this.lastTick, inputs: this.history }, this.writer))
  }

  close(): void {
    this.link.close()
  }

  private receive(bytes: Uint8Array): void {
    const d = decodeServerDatagram(bytes)
    if (isDecodeError(d) || d.type !== 'snapshot') return
    const h = readSnapshotHeader(d.bytes)
    if (isDecodeError(h)) return
    this.snapshots++
    this.lastTick = h.tick
  }
}
