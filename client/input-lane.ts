/**
 * The numbered inputs of one player entity: sequence numbers, the unacknowledged tail repeated in
 * every packet, and the counts the client reports. A lane outlives a connection when the player
 * migrates to another worker (the new owner continues where the old one stopped, and ignores
 * numbers it already applied), so it lives apart from the session that sends on it; a reconnection
 * that joins as a new entity starts a new lane, numbered from 1.
 */
import { InputHistory, quantizeAxis } from '../core/wire/input-codec.ts'
import type { InputPacket } from '../core/wire/input-codec.ts'

/** What a player does this tick. Axes are -1…1 (clamped); `buttons` is a 16-bit set. */
export interface PlayerInput {
  moveX: number
  moveY: number
  buttons?: number
}

/** The lane's counters (part of `SessionCounters`). */
export interface LaneCounters {
  /** Inputs recorded (each gets a sequence number). */
  inputsSent: number
  /** Highest input sequence number the server acknowledged as applied. */
  inputsAcked: number
  /** Inputs pushed out of the redundancy window before the server acknowledged them. */
  inputsUnconfirmed: number
}

export const laneCounterKeys: ReadonlyArray<keyof LaneCounters> = ['inputsSent', 'inputsAcked', 'inputsUnconfirmed']

export class InputLane {
  readonly counters: LaneCounters = { inputsSent: 0, inputsAcked: 0, inputsUnconfirmed: 0 }
  private readonly history: InputHistory

  /** @param redundancy unacknowledged inputs repeated per packet (default 4). */
  constructor(readonly redundancy = 4) {
    this.history = new InputHistory(redundancy)
  }

  /** Sequence number of the last input recorded (0 before the first). */
  get lastSeq(): number {
    return this.counters.inputsSent
  }

  /** Record the next input, meant for server tick `tick`. */
  record(tick: number, input: PlayerInput): void {
    const pendingBefore = this.counters.inputsSent - this.counters.inputsAcked
    this.history.push(tick, quantizeAxis(input.moveX), quantizeAxis(input.moveY), (input.buttons ?? 0) & 0xffff)
    this.counters.inputsSent++
    // The history keeps `redundancy` inputs: one more unacknowledged input pushes the oldest out.
    if (pendingBefore >= this.redundancy) this.counters.inputsUnconfirmed++
  }

  /** The server applied everything up to `seq`. Lower numbers than already acknowledged change nothing. */
  acknowledge(seq: number): void {
    if (seq <= this.counters.inputsAcked) return
    this.counters.inputsAcked = Math.min(seq, this.counters.inputsSent)
    this.history.acknowledge(seq)
  }

  /** The unacknowledged inputs to send now, newest first, with the snapshot tick to acknowledge. */
  packet(ackTick: number | null): InputPacket {
    return this.history.packet(ackTick)
  }
}
