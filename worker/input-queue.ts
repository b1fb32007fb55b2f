/**
 * One player's pending inputs: ordered by sequence number, de-duplicated (inputs arrive several
 * times by design: every packet repeats the recent ones), applied exactly once, bounded. A missing
 * sequence number is waited for briefly, then skipped and counted as lost, so one input lost in
 * every copy cannot stall a player forever.
 */
import type { InputRecord } from '../core/wire/input-codec.ts'

export interface InputQueueOptions {
  /** Inputs held at most; newer ones beyond are dropped (default 32). */
  maxPending?: number
  /** Inputs further than this ahead of the last applied are refused as bogus (default 1024). */
  maxAhead?: number
  /** Ticks to wait for a missing sequence number before skipping it (default 2). */
  gapWaitTicks?: number
  /** Last sequence number already applied (default 0: the client starts at 1). */
  lastApplied?: number
}

export interface InputQueueStats {
  applied: number
  duplicates: number
  /** Refused: queue full or too far ahead. */
  dropped: number
  /** Sequence numbers skipped because they never arrived. */
  lost: number
}

export class InputQueue {
  private readonly pending: InputRecord[] = []
  private readonly maxPending: number
  private readonly maxAhead: number
  private readonly gapWaitTicks: number
  private gapSince: number | null = null
  private last: number
  readonly stats: InputQueueStats = { applied: 0, duplicates: 0, dropped: 0, lost: 0 }

  constructor(options: InputQueueOptions = {}) {
    this.maxPending = options.maxPending ?? 32
    this.maxAhead = options.maxAhead ?? 1024
    this.gapWaitTicks = options.gapWaitTicks ?? 2
    this.last = options.lastApplied ?? 0
  }

  /** Highest sequence number applied: acknowledged to the client in snapshots. */
  get lastApplied(): number {
    return this.last
  }

  get size(): number {
    return this.pending.length
  }

  /** Inputs received and not yet applied, in sequence order (a copy). */
  pendingInputs(): InputRecord[] {
    return this.pending.slice()
  }

  /** Remove and return the inputs not yet applied (the entity is leaving: they go with it). */
  takePending(): InputRecord[] {
    return this.pending.splice(0, this.pending.length)
  }

  /** Take in inputs in any order, with any repeats. */
  receive(inputs: readonly InputRecord[]): void {
    for (const input of inputs) {
      const seq = input.seq
      if (seq <= this.last) {
        this.stats.duplicates++
        continue
      }
      if (seq > this.last + this.maxAhead) {
        this.stats.dropped++
        continue
      }
      // Insertion keeps seq order; the queue is short, and inputs mostly arrive in order (append).
      let i = this.pending.length
      while (i > 0 && (this.pending[i - 1]?.seq ?? 0) > seq) i--
      if (this.pending[i - 1]?.seq === seq) {
        this.stats.duplicates++
        continue
      }
      if (this.pending.length >= this.maxPending) {
        this.stats.dropped++
        continue
      }
      this.pending.splice(i, 0, input)
    }
  }

  /** Apply, in order, every input that is due at `tick`; each is handed to `apply` exactly once. */
  drain(tick: number, apply: (input: InputRecord) => void): void {
    for (;;) {
      const first = this.pending[0]
      if (first === undefined) {
        this.gapSince = null
        return
      }
      if (first.seq !== this.last + 1) {
        this.gapSince ??= tick
        if (tick - this.gapSince < this.gapWaitTicks && this.pending.length < this.maxPending) return
        this.stats.lost += first.seq - this.last - 1
        this.last = first.seq - 1
      }
      this.gapSince = null
      this.pending.shift()
      this.last = first.seq
      this.stats.applied++
      apply(first)
    }
  }
}
