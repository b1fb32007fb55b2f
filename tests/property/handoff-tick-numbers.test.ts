/**
 * Tick numbers across handoffs, as property: workers each step every tick number at their own phase
 * of the interval; an entity is handed between them at any of their tick boundaries, arriving at
 * once or after any delay (an offer in flight). Whatever the phases and the moments, the game steps
 * it at strictly increasing tick numbers (never one number twice, the later-phase worker's run of
 * the number it was frozen at sat out), and, handed over with no delay, at every number.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game } from '../../worker/game/types.ts'
import type { EntityExport } from '../../worker/simulation.ts'
import { Simulation } from '../../worker/simulation.ts'

const WORLD = { minX: 0, minY: 0, maxX: 300, maxY: 100 }
const FIRST_TICK = 100
const TICKS = 40

describe('tick numbers across handoffs', () => {
  it('an entity is stepped at strictly increasing numbers, and at every one when handed over without delay', () => {
    fc.assert(
      fc.property(
        // Each worker's phase, in eighths of the interval (equal phases: either may run first).
        fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 2, maxLength: 3 }),
        // At each of its owner's steps: hand it on or not, to which worker, after how many of the
        // workers' steps in between (0: taken in before anyone steps again).
        fc.array(fc.record({ go: fc.boolean(), to: fc.nat(), delay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 6 })) }), { minLength: TICKS, maxLength: TICKS }),
        (phases, moves) => {
          const stepped: number[] = []
          const demo = createDemoGame({ walkerSpeed: [0, 0] })
          const game: Game<DemoState, DemoMessage> = {
            ...demo,
            tick: (ctx, dt) => {
              for (const e of ctx.entities()) if (e.control === 'player') stepped.push(ctx.tick)
              demo.tick(ctx, dt)
            },
          }
          const sims = phases.map(
            (_, k) => new Simulation({ game, seed: k + 1, bounds: { minX: k * 100, minY: 0, maxX: (k + 1) * 100, maxY: 100 }, worldBounds: WORLD, firstEntityId: 1 + k * 100_000, startTick: FIRST_TICK }),
          )
          // Steps in time order: every tick number, the workers by phase (ties in index order).
          const order = phases.map((p, k) => ({ p, k })).sort((a, b) => a.p - b.p || a.k - b.k).map((x) => x.k)
          const id = sims[0]?.addPlayer('p', { x: 50, y: 50 })
          let owner: number | null = 0
          let inFlight: { x: EntityExport<DemoState>; to: number; steppedThrough: number; stepsLeft: number } | null = null
          let noDelay = true
          let m = 0
          /** The entity in flight arrives at its receiver. */
          const land = (f: NonNullable<typeof inFlight>) => {
            expect((sims[f.to] as Simulation<DemoState, DemoMessage>).importEntity(f.x, f.steppedThrough)).toBe(true)
            owner = f.to
            inFlight = null
          }
          for (let tick = FIRST_TICK; tick < FIRST_TICK + TICKS; tick++) {
            for (const k of order) {
              const sim = sims[k] as Simulation<DemoState, DemoMessage>
              sim.step(tick)
              if (inFlight !== null && inFlight.stepsLeft-- <= 0) land(inFlight)
              // Handed on at the end of its owner's step (an offer is made after the tick).
              const move = moves[m]
              if (owner !== k || move === undefined) continue
              m++
              if (!move.go) continue
              const to = move.to % sims.length
              if (to === k) continue
              const x = sim.exportEntity(id as number)
              if (x === undefined) throw new Error('no entity to export')
              owner = null
              if (move.delay > 0) noDelay = false
              inFlight = { x, to, steppedThrough: tick, stepsLeft: move.delay }
              if (move.delay === 0) land(inFlight)
            }
          }
          for (let k = 1; k < stepped.length; k++) expect(stepped[k] as number).toBeGreaterThan(stepped[k - 1] as number)
          if (noDelay) expect(stepped).toEqual(Array.from({ length: stepped.length }, (_, k) => FIRST_TICK + k))
          // Still simulated somewhere, or on its way.
          expect(owner !== null || inFlight !== null).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })
})
