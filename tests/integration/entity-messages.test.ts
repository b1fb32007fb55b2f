/**
 * Game messages between entities on different workers ("bump entity 42"): an entity reads a ghost
 * and sends it a message, which the ghost's owner delivers to its next tick, over the neighbour
 * link. And a message follows its entity: one that arrives at a worker the entity just left (its
 * offer still out, or already accepted elsewhere) is held with the offer and sent on after it, as
 * the entity's inputs are, so a game sending to an entity as it crosses loses nothing.
 *
 * The world is split at x = 100: p1 on wA, p2 on wB. A pinger stands on wA at x = 92; a target
 * spawns on wB at x = 108 (within the ghost margin, 16). Each tick the pinger sees the target (its
 * own entity or a ghost) it sends it the next number; the target records every number it gets and
 * on which side of the border.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Game } from '../../worker/game/types.ts'
import { eventually } from '../helpers/eventually.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

type Role = { role: 'pinger' | 'target'; dir: number }
type Ping = { n: number }

/** Walking target speed (units/s): it crosses the border about once a second. */
const SPEED = 60

class Pings {
  pinging = true
  walking = false
  targetId: number | undefined
  readonly sent: number[] = []
  /** Per number, where it was delivered each time ('wA' or 'wB', by the receiving partition). */
  readonly received = new Map<number, string[]>()
  crossings = 0
  private spawned = { pinger: false, target: false }

  game(): Game<Role, Ping> {
    return {
      name: 'pings',
      spawn: (_ctx, spec) => ({ x: spec.x ?? 0, y: spec.y ?? 50, state: { role: (spec.x ?? 0) < 100 ? 'pinger' : 'target', dir: -1 } }),
      input: () => undefined,
      tick: (ctx, dt) => {
        const west = ctx.bounds.maxX <= 100
        if (west && !this.spawned.pinger) {
          this.spawned.pinger = true
          ctx.spawnNpc({ x: 92, y: 50 })
        }
        if (!west && !this.spawned.target) {
          this.spawned.target = true
          this.targetId = ctx.spawnNpc({ x: 108, y: 50 })
        }
        const target = this.targetId
        for (const e of ctx.entities()) {
          if (e.state.role === 'target') {
            if (!this.walking) continue
            if (e.x < 70) e.state.dir = 1
            if (e.x > 130) e.state.dir = -1
            const before = e.x
            e.x += e.state.dir * SPEED * dt
            if ((before < 100) !== (e.x < 100)) this.crossings++
            continue
          }
          if (!this.pinging || target === undefined) continue
          const seen = ctx.get(target) !== undefined || ctx.ghosts().some((g) => g.id === target)
          if (!seen) continue
          const n = this.sent.length + 1
          this.sent.push(n)
          ctx.send(e.id, target, { n })
        }
      },
      leave: () => undefined,
      message: (ctx, _from, _to, payload) => {
        const where = this.received.get(payload.n) ?? []
        where.push(ctx.bounds.minX >= 100 ? 'wB' : 'wA')
        this.received.set(payload.n, where)
      },
      wire: (_e, out) => {
        out.kind = 1
      },
    }
  }

  /** Numbers sent but never delivered, and those delivered more than once. */
  faults(): { lost: number[]; doubled: number[] } {
    return {
      lost: this.sent.filter((n) => !this.received.has(n)),
      doubled: [...this.received].filter(([, where]) => where.length > 1).map(([n]) => n),
    }
  }

  /** Stops pinging and gives what is in flight time to land (a tick or two; more on a loaded machine). */
  async settle(): Promise<void> {
    this.pinging = false
    const until = performance.now() + 5_000
    while (this.faults().lost.length > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50))
    // A copy delivered twice would come at about the same time.
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('entity messages between workers', () => {
  const pings = new Pings()
  let world: WorkerWorld<Role, Ping>

  beforeAll(async () => {
    world = new WorkerWorld('/msg', { game: () => pings.game(), worker: { tickRate: 20 } })
    await world.start()
    await world.createWorld()
  })
  afterAll(async () => {
    await world.stop()
  })

  it("reach a ghost's owner on the other worker, each once", async () => {
    await eventually('30 pings delivered', () => pings.received.size >= 30, 10_000)
    await pings.settle()
    expect(pings.faults()).toEqual({ lost: [], doubled: [] })
    const sides = new Set([...pings.received.values()].flat())
    expect([...sides]).toEqual(['wB'])
    expect(world.wA.border.stats.messagesOut).toBeGreaterThanOrEqual(pings.sent.length)
  })

  it('follow an entity that crosses the border back and forth, none lost or doubled', { timeout: 30_000 }, async () => {
    const sentBefore = pings.sent.length
    pings.pinging = true
    pings.walking = true
    await eventually('eight crossings', () => pings.crossings >= 8, 20_000)
    await pings.settle()
    pings.walking = false
    const { lost, doubled } = pings.faults()
    expect({ lost, doubled }).toEqual({ lost: [], doubled: [] })
    expect(pings.sent.length - sentBefore).toBeGreaterThan(50)
    // Delivered on both sides: the target was simulated by each worker in turn.
    expect(new Set([...pings.received.values()].flat())).toEqual(new Set(['wA', 'wB']))
    const handoffs = world.wA.border.stats.handoffsOut + world.wB.border.stats.handoffsOut
    expect(handoffs).toBeGreaterThanOrEqual(8)
  })
})
