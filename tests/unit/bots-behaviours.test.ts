/**
 * Bot behaviours: deterministic per seed, `path` walks its waypoints in a loop, `crowd` walks to its
 * point and stops around it; and the swarm report's checks.
 */
import { describe, expect, it } from 'vitest'
import { createBehaviour, seededRandom } from '../../scripts/bots/behaviours.ts'
import type { Point } from '../../scripts/bots/behaviours.ts'
import { summarize } from '../../scripts/bots/run.ts'
import type { BotReport } from '../../scripts/bots/bot.ts'

/** Moves a point by the behaviour's inputs, 1 unit per step. */
function walk(behaviour: ReturnType<typeof createBehaviour>, from: Point, steps: number): Point[] {
  const trail: Point[] = []
  let p = { ...from }
  for (let i = 0; i < steps; i++) {
    const { moveX, moveY } = behaviour(p)
    p = { x: p.x + moveX, y: p.y + moveY }
    trail.push(p)
  }
  return trail
}

describe('bot behaviours', () => {
  it('wanders the same way for the same seed, with unit-length moves', () => {
    const a = walk(createBehaviour('wander', seededRandom(5)), { x: 0, y: 0 }, 200)
    const b = walk(createBehaviour('wander', seededRandom(5)), { x: 0, y: 0 }, 200)
    const c = walk(createBehaviour('wander', seededRandom(6)), { x: 0, y: 0 }, 200)
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
    const moves = createBehaviour('wander', seededRandom(1))
    const m = moves(undefined)
    expect(Math.hypot(m.moveX, m.moveY)).toBeCloseTo(1, 6)
  })

  it('follows its waypoints in a loop', () => {
    const waypoints = [{ x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 0 }]
    const trail = walk(createBehaviour('path', seededRandom(1), { waypoints }), { x: 0, y: 0 }, 80)
    // Each waypoint is reached after the previous one, and then the first one again.
    let at = 0
    for (const q of [...waypoints, waypoints[0] as Point]) {
      const i = trail.findIndex((p, n) => n >= at && Math.hypot(p.x - q.x, p.y - q.y) <= 1)
      expect(i).toBeGreaterThanOrEqual(at)
      at = i + 2
    }
  })

  it('crowds to its point and stays around it', () => {
    const target = { x: 50, y: -20 }
    const trail = walk(createBehaviour('crowd', seededRandom(2), { target }), { x: 0, y: 0 }, 120)
    const last = trail.at(-1) as Point
    expect(Math.hypot(last.x - target.x, last.y - target.y)).toBeLessThanOrEqual(10)
    expect(trail.at(-1)).toEqual(trail.at(-2))
  })
})

describe('swarm report', () => {
  const bot = (over: Partial<BotReport['stats']> & { joined?: boolean } = {}): BotReport => ({
    index: 0, joined: over.joined ?? true, state: 'connected', maxSnapshotGapMs: 50, errors: [],
    unacked: (over.inputsSent ?? 10) - (over.inputsAcked ?? 10),
    stats: {
      snapshots: 20, staleSnapshots: 0, badSnapshots: 0, tickGaps: 0, inputsSent: 10, inputsAcked: 10, inputsUnconfirmed: 0,
      ackRegressions: 0, bytesIn: 100, bytesOut: 100, controlMessages: 1, reconnects: 0, rttMs: 1, serverTick: 20, state: 'connected', ...over,
    },
  })

  it('passes only when every bot joined, got snapshots and had all its inputs acknowledged in order', () => {
    expect(summarize([bot(), bot()]).ok).toBe(true)
    expect(summarize([bot(), bot({ inputsAcked: 9 })])).toMatchObject({ ok: false, unacked: 1 })
    expect(summarize([bot({ ackRegressions: 1 })]).ok).toBe(false)
    expect(summarize([bot({ snapshots: 0 })])).toMatchObject({ ok: false, silentBots: 1 })
    expect(summarize([bot({ joined: false })]).ok).toBe(false)
  })
})
