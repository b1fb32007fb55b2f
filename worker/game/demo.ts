/**
 * The demo game: players walk where their inputs point; NPC walkers stroll between targets, most
 * often toward a few gathering points so crowds form; everyone bumps (pushes apart on overlap) and
 * bumped entities tell each other, which flags them for a moment. Deterministic given the seed.
 */
import type { Entity, EntityId, Game, GameContext, SpawnResult, SpawnSpec, WireFields } from './types.ts'

export interface DemoState {
  role: 'player' | 'walker'
  /** Where a walker is heading (unused for players). */
  targetX: number
  targetY: number
  /** Walking speed, world units per second. */
  speed: number
  /** Player intent, -1..1 per axis. */
  moveX: number
  moveY: number
  hp: number
  /** Ticks left of the "just bumped" flag. */
  bumpedTicks: number
  /**
   * Players: the inputs this entity was driven by, as the game saw them. It travels with the entity
   * across workers, so a test (or an operator, through the worker's `/debug/entities`) can check
   * that a player's numbered inputs were each applied once, in order, wherever it walked.
   */
  inputs?: InputRecordSummary
}

/** How a player entity's inputs were applied. */
export interface InputRecordSummary {
  /** Inputs applied. */
  applied: number
  /** Sequence number of the last one applied (0 before the first). */
  lastSeq: number
  /** Inputs whose number was not the previous one + 1 (a repeat, a skip, or out of order). */
  outOfSequence: number
}

export type DemoMessage = { type: 'bump'; strength: number }

export interface DemoOptions {
  /** Gathering points walkers favour; default: three points spread over the bounds. */
  crowdPoints?: { x: number; y: number }[]
  /** Chance a walker's next target is a gathering point (default 0.7). */
  crowdBias?: number
  /** Player speed in units per second (default 4). */
  playerSpeed?: number
  /** Walker speed range in units per second (default 1.5–3). */
  walkerSpeed?: [number, number]
  /** Entity radius (default 0.5). */
  radius?: number
}

export const DemoKind = { player: 1, walker: 2 } as const
export const DemoFlags = { bumped: 1 } as const

type Ctx = GameContext<DemoState, DemoMessage>

export function createDemoGame(options: DemoOptions = {}): Game<DemoState, DemoMessage> {
  const crowdBias = options.crowdBias ?? 0.7
  const playerSpeed = options.playerSpeed ?? 4
  const [minSpeed, maxSpeed] = options.walkerSpeed ?? [1.5, 3]
  const radius = options.radius ?? 0.5
  const near: Entity<DemoState>[] = []

  function crowdPoints(ctx: Ctx): { x: number; y: number }[] {
    if (options.crowdPoints !== undefined && options.crowdPoints.length > 0) return options.crowdPoints
    const b = ctx.bounds
    const w = b.maxX - b.minX
    const h = b.maxY - b.minY
    return [
      { x: b.minX + w * 0.3, y: b.minY + h * 0.3 },
      { x: b.minX + w * 0.7, y: b.minY + h * 0.4 },
      { x: b.minX + w * 0.5, y: b.minY + h * 0.75 },
    ]
  }

  function pickTarget(ctx: Ctx, s: DemoState): void {
    const b = ctx.bounds
    if (ctx.rng.next() < crowdBias) {
      const pts = crowdPoints(ctx)
      const p = pts[ctx.rng.int(pts.length)] ?? { x: b.minX, y: b.minY }
      const spread = Math.min(b.maxX - b.minX, b.maxY - b.minY) * 0.08
      s.targetX = p.x + ctx.rng.range(-spread, spread)
      s.targetY = p.y + ctx.rng.range(-spread, spread)
    } else {
      // Anywhere in the world: in a world of several partitions, walkers cross borders.
      const w = ctx.worldBounds
      s.targetX = ctx.rng.range(w.minX, w.maxX)
      s.targetY = ctx.rng.range(w.minY, w.maxY)
    }
  }

  return {
    name: 'demo',

    spawn(ctx, spec: SpawnSpec): SpawnResult<DemoState> {
      const b = ctx.bounds
      const x = spec.x ?? ctx.rng.range(b.minX, b.maxX)
      const y = spec.y ?? ctx.rng.range(b.minY, b.maxY)
      const state: DemoState = {
        role: spec.type === 'player' ? 'player' : 'walker',
        targetX: x,
        targetY: y,
        speed: spec.type === 'player' ? playerSpeed : ctx.rng.range(minSpeed, maxSpeed),
        moveX: 0,
        moveY: 0,
        hp: 100,
        bumpedTicks: 0,
      }
      if (state.role === 'walker') pickTarget(ctx, state)
      else state.inputs = { applied: 0, lastSeq: 0, outOfSequence: 0 }
      return { x, y, radius, heading: 0, state }
    },

    input(_ctx, entity, input) {
      entity.state.moveX = input.moveX
      entity.state.moveY = input.moveY
      const record = entity.state.inputs
      if (record !== undefined) {
        if (input.seq !== record.lastSeq + 1) record.outOfSequence++
        record.applied++
        record.lastSeq = input.seq
      }
    },

    tick(ctx, dt) {
      const b = ctx.worldBounds
      for (const e of ctx.entities()) {
        const s = e.state
        if (s.role === 'walker') {
          const dx = s.targetX - e.x
          const dy = s.targetY - e.y
          const d = Math.hypot(dx, dy)
          if (d < 1) {
            pickTarget(ctx, s)
            e.vx = 0
            e.vy = 0
          } else {
            e.vx = (dx / d) * s.speed
            e.vy = (dy / d) * s.speed
          }
        } else {
          const len = Math.hypot(s.moveX, s.moveY)
          const k = len > 1 ? 1 / len : 1
          e.vx = s.moveX * k * s.speed
          e.vy = s.moveY * k * s.speed
        }
        e.x = Math.min(b.maxX, Math.max(b.minX, e.x + e.vx * dt))
        e.y = Math.min(b.maxY, Math.max(b.minY, e.y + e.vy * dt))
        if (e.vx !== 0 || e.vy !== 0) e.heading = Math.atan2(e.vy, e.vx)
        if (s.bumpedTicks > 0) s.bumpedTicks--
      }
      // Separation: push overlapping pairs apart; the lower id handles each pair once.
      for (const e of ctx.entities()) {
        ctx.nearby(e.x, e.y, e.radius * 2 + 1, near)
        for (const o of near) {
          if (o.id <= e.id) continue
          const dx = o.x - e.x
          const dy = o.y - e.y
          const min = e.radius + o.radius
          const d2 = dx * dx + dy * dy
          if (d2 >= min * min) continue
          const d = Math.sqrt(d2)
          // Coincident entities: push along a fixed axis chosen by id, not by randomness, to stay deterministic.
          const nx = d > 1e-6 ? dx / d : 1
          const ny = d > 1e-6 ? dy / d : 0
          const push = (min - d) / 2
          e.x -= nx * push
          e.y -= ny * push
          o.x += nx * push
          o.y += ny * push
          ctx.send(e.id, o.id, { type: 'bump', strength: push })
          ctx.send(o.id, e.id, { type: 'bump', strength: push })
        }
      }
    },

    leave() {
      // Nothing to clean up: demo entities hold no external resources.
    },

    message(_ctx, _from: EntityId, to, payload) {
      if (payload.type === 'bump') to.state.bumpedTicks = 3
    },

    inspect(entity): Record<string, number> {
      const r = entity.state.inputs
      return r === undefined ? {} : { inputsApplied: r.applied, lastInputSeq: r.lastSeq, inputsOutOfSequence: r.outOfSequence }
    },

    wire(entity, out: WireFields) {
      out.kind = entity.state.role === 'player' ? DemoKind.player : DemoKind.walker
      out.flags = entity.state.bumpedTicks > 0 ? DemoFlags.bumped : 0
      out.hp = entity.state.hp
    },
  }
}
