/**
 * One headless bot: a `TesseraClient` driven by a behaviour, checking what it receives — snapshots
 * keep arriving, the acknowledged input sequence never goes backwards, and every input it sent is
 * eventually acknowledged as applied.
 */
import { TesseraClient } from '../../client/client.ts'
import type { ClientStats, GrantSource, TesseraClientOptions } from '../../client/client.ts'
import type { Behaviour } from './behaviours.ts'

export interface BotReport {
  index: number
  joined: boolean
  state: string
  stats: ClientStats
  /** Longest time between two snapshots while connected, ms. */
  maxSnapshotGapMs: number
  /** Inputs sent but not (yet) acknowledged as applied. */
  unacked: number
  errors: string[]
}

export class Bot {
  readonly client: TesseraClient
  private joinedOk = false
  private lastSnapshotAt: number | undefined
  private maxGapMs = 0
  private credit = 0
  private sending = true
  readonly errors: string[] = []

  constructor(
    readonly index: number,
    private readonly behaviour: Behaviour,
    /** Inputs per second. */
    private readonly hz: number,
    clientOptions: TesseraClientOptions = {},
  ) {
    this.client = new TesseraClient({ trackEntities: false, ...clientOptions })
    this.client.on('error', (e) => {
      if (this.errors.length < 20) this.errors.push(`${e.code}: ${e.message}`)
    })
    this.client.on('snapshot', () => {
      const now = performance.now()
      if (this.lastSnapshotAt !== undefined) this.maxGapMs = Math.max(this.maxGapMs, now - this.lastSnapshotAt)
      this.lastSnapshotAt = now
    })
    this.client.on('stateChange', ({ state }) => {
      // A reconnection is its own gap; measure the gaps of healthy sessions only.
      if (state !== 'connected') this.lastSnapshotAt = undefined
    })
    this.client.on('tick', () => this.act())
  }

  async join(source: GrantSource): Promise<void> {
    await this.client.joinWith(source, true)
    this.joinedOk = true
  }

  /** Stop sending inputs (so that the last ones can be acknowledged before the report). */
  pause(): void {
    this.sending = false
  }

  /** Resets the snapshot-gap measurement (after a warm-up). */
  resetGap(): void {
    this.maxGapMs = 0
  }

  report(): BotReport {
    const stats = this.client.stats()
    return {
      index: this.index, joined: this.joinedOk, state: this.client.state, stats,
      maxSnapshotGapMs: this.maxGapMs, unacked: stats.inputsSent - stats.inputsAcked, errors: [...this.errors],
    }
  }

  close(): void {
    this.client.close()
  }

  private act(): void {
    if (!this.sending) return
    const tickRate = this.client.joinInfo?.tickRate ?? 20
    this.credit += this.hz / tickRate
    if (this.credit < 1) return
    this.credit = Math.min(this.credit - 1, 1)
    this.client.sendInput(this.behaviour(this.client.selfPosition()))
  }
}
