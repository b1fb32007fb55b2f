/**
 * A game for tests that move players between partitions: players walk where their last input
 * points (30 units/s, both axes), NPCs stand still, and every input the game applies is recorded
 * per player, in order (the workers run in the test's process, so one record sees them all).
 */
import type { Rect } from '../../../core/geometry.ts'
import type { Game } from '../../../worker/game/types.ts'

export interface Walk {
  dx: number
  dy: number
}
export type WalkerMessage = { type: 'none' }

export const WALK_SPEED = 30

export function walkerGame(options: {
  /** Input seqs applied, by player id. */
  applied: Map<string, number[]>
  /** Where a player or NPC with no position given spawns, in the partition `bounds`. */
  spawnAt: (bounds: Rect) => { x: number; y: number }
  /** Called for every entity at every tick the game simulates it, with the tick's number. */
  onStep?: (entityId: number, tick: number) => void
}): Game<Walk, WalkerMessage> {
  const { applied, spawnAt, onStep } = options
  return {
    name: 'walker',
    spawn: (ctx, spec) => {
      const at = spawnAt(ctx.bounds)
      return { x: spec.x ?? at.x, y: spec.y ?? at.y, state: { dx: 0, dy: 0 } }
    },
    input: (_ctx, e, input) => {
      const list = applied.get(e.playerId ?? '?') ?? []
      list.push(input.seq)
      applied.set(e.playerId ?? '?', list)
      e.state.dx = input.moveX
      e.state.dy = input.moveY
    },
    tick: (ctx, dt) => {
      const b = ctx.worldBounds
      for (const e of ctx.entities()) {
        onStep?.(e.id, ctx.tick)
        e.vx = e.state.dx * WALK_SPEED
        e.vy = e.state.dy * WALK_SPEED
        e.x = Math.min(b.maxX, Math.max(b.minX, e.x + e.vx * dt))
        e.y = Math.min(b.maxY, Math.max(b.minY, e.y + e.vy * dt))
      }
    },
    leave: () => undefined,
    message: () => undefined,
    wire: (_e, out) => {
      out.kind = 2
    },
  }
}
