/**
 * Ticks on the cluster's clock, as property: workers started at any moments (each process with its
 * own monotonic clock), each at the phase `spreadPhase` gives it, woken late by any amounts (stalls
 * longer than the catch-up bound included), never run a tick before it is due, never run a number
 * twice or out of order, and after every wake-up have run exactly the tick the shared clock says is
 * due for their phase (a loop that fell behind skips numbers rather than stay behind): so any two
 * that are awake are at most one tick number apart.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { spreadPhase } from '../../core/cluster-clock.ts'
import { TickLoop } from '../../worker/tick-loop.ts'

const EPOCH = 1_700_000_000_000
const RATE = 20
const STEP = 1000 / RATE

interface Sim {
  loop: TickLoop
  /** Wall-clock ms minus this process's monotonic clock. */
  offset: number
  phase: number
  /** The pending wake-up, in this process's monotonic ms. */
  pending: { at: number; fn: () => void } | null
  ran: Array<{ tick: number; wall: number }>
}

describe('ticks on the cluster clock', () => {
  it('every worker runs each tick number once, in order, never early, and is on the shared count after every wake-up', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ startAfter: fc.integer({ min: 0, max: 5_000 }), processAge: fc.integer({ min: 0, max: 100_000 }) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 200, max: 900 })), { minLength: 20, maxLength: 200 }),
        (workers, lateness) => {
          let wall = EPOCH + 12_345.5
          const sims: Sim[] = []
          const startAt = workers.map((w, k) => ({ ...w, k })).sort((a, b) => a.startAfter - b.startAfter)
          const start = (w: (typeof startAt)[number]) => {
            const offset = wall - w.processAge
            const phase = spreadPhase(sims.map((s) => s.phase))
            const sim: Sim = { offset, phase, pending: null, ran: [], loop: undefined as unknown as TickLoop }
            sim.loop = new TickLoop({
              tickRate: RATE,
              wallOffsetMs: offset,
              clock: { now: () => wall - sim.offset },
              scheduler: {
                schedule: (fn, delayMs) => {
                  const entry = { at: wall - sim.offset + delayMs, fn }
                  sim.pending = entry
                  return () => {
                    if (sim.pending === entry) sim.pending = null
                  }
                },
              },
              onTick: (tick) => sim.ran.push({ tick, wall }),
            })
            sims.push(sim)
            sim.loop.start(EPOCH + phase * STEP)
          }
          const dueNumber = (s: Sim) => Math.floor((wall - EPOCH) / STEP - s.phase)
          for (const l of lateness) {
            while (startAt.length > 0 && EPOCH + 12_345.5 + (startAt[0] as (typeof startAt)[number]).startAfter <= wall) start(startAt.shift() as (typeof startAt)[number])
            // The next wake-up due, woken `l` ms late (a stall), the clock moving for everyone.
            const next = sims.filter((s) => s.pending).sort((a, b) => (a.pending as { at: number }).at + a.offset - ((b.pending as { at: number }).at + b.offset))[0]
            if (!next || !next.pending) {
              wall += STEP
              continue
            }
            const p = next.pending
            next.pending = null
            wall = Math.max(wall, p.at + next.offset + l)
            p.fn()
            expect(next.ran.at(-1)?.tick).toBe(dueNumber(next))
          }
          for (const s of sims) {
            for (let k = 1; k < s.ran.length; k++) expect((s.ran[k] as { tick: number }).tick).toBeGreaterThan((s.ran[k - 1] as { tick: number }).tick)
            for (const r of s.ran) expect(EPOCH + (r.tick + s.phase) * STEP).toBeLessThanOrEqual(r.wall + 1e-6)
          }
        },
      ),
    )
  })
})
