/**
 * The demo game with a switch that sends a fixed share of its walkers into one region: the
 * `hotspot` scenario's crowd. Before the switch, walkers stroll between targets anywhere in the
 * world (no gathering points), so the population stays spread evenly; after it, every walker chosen
 * by its entity id heads for its own spot inside the region, faster, and stays there.
 *
 * Membership and the spot are pure functions of the entity id, which survives handoffs, so a walker
 * keeps its role whichever worker simulates it. Every game instance of the process shares one
 * `CrowdSwitch`: flipping it reaches all workers at their next tick.
 */
import type { Rect } from '../../../core/geometry.ts'
import { createDemoGame } from '../../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../../worker/game/demo.ts'
import type { EntityId, Game } from '../../../worker/game/types.ts'

export interface CrowdSwitch {
  /** Walkers in the crowd head for the region while this is set. */
  active: boolean
  region: Rect
  /** Share of walkers that join the crowd, 0..1. */
  fraction: number
  /** Speed of a walker heading for the crowd, units per second. */
  speed: number
}

/** A well-mixed hash of an entity id into [0, 1); `salt` gives independent draws. */
export function idUnit(id: EntityId, salt = 0): number {
  let h = (id ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  h = (h ^ (h >>> 16)) >>> 0
  return h / 4294967296
}

export function inCrowd(crowd: CrowdSwitch, id: EntityId): boolean {
  return idUnit(id) < crowd.fraction
}

/** The spot inside the region a crowd member stands on. */
export function crowdSpot(crowd: CrowdSwitch, id: EntityId): { x: number; y: number } {
  const r = crowd.region
  return { x: r.minX + idUnit(id, 1) * (r.maxX - r.minX), y: r.minY + idUnit(id, 2) * (r.maxY - r.minY) }
}

export function crowdGame(crowd: CrowdSwitch): Game<DemoState, DemoMessage> {
  // crowdBias 0: a walker's next target is anywhere in the world, so the spread stays even.
  const base = createDemoGame({ crowdBias: 0 })
  return {
    ...base,
    tick(ctx, dt) {
      if (crowd.active) {
        for (const e of ctx.entities()) {
          if (e.state.role !== 'walker' || !inCrowd(crowd, e.id)) continue
          // Re-aimed every tick: the demo picks a new target when one is reached.
          const spot = crowdSpot(crowd, e.id)
          e.state.targetX = spot.x
          e.state.targetY = spot.y
          e.state.speed = crowd.speed
        }
      }
      base.tick(ctx, dt)
    },
  }
}
