/**
 * Game code that throws, counted and logged per partition. What a throw costs depends on the hook:
 * `tick` (a tick, or an input or message in it) the rest of that tick's game logic, `wire` one
 * entity's snapshot fields for one tick, `leave` nothing (the player is removed all the same),
 * `codec` (its state codec, either way) that entity's place in one ghost batch, or one handoff of
 * it (its owner keeps it), and (its message codec, either way) that one message between workers,
 * dropped (`entity`: the one it was for), `spawn` the joining player (refused with `internal`) or
 * the rest of a starting partition's NPCs. Each hook's errors are logged at its 1st, 2nd, 4th, 8th…
 * one: a game that throws every tick does not flood the log, and one hook's steady errors do not
 * hide another's first.
 */
import type { Logger } from '../core/log.ts'
import type { Entity, EntityId, Game, WireFields } from './game/types.ts'

export type GameHook = 'tick' | 'wire' | 'leave' | 'codec' | 'spawn'

const COSTS: Record<GameHook, string> = {
  tick: 'game code threw during a tick',
  wire: "game code threw in wire: the entity's snapshot fields are zero for this tick",
  leave: 'game code threw in leave: the player was removed all the same',
  codec: 'game code threw in its codec: the entity is left out of that ghost batch, or that handoff is not made (its owner keeps it), or the message for it is dropped',
  spawn: 'game code threw in spawn: the joining player is refused (internal), or the partition starts with the NPCs made before it',
}

export class GameFaults {
  /** Calls into game code that threw, all hooks together. */
  count = 0
  private readonly byHook: Record<GameHook, number> = { tick: 0, wire: 0, leave: 0, codec: 0, spawn: 0 }

  /** Without a logger, errors are only counted (a simulation on its own, in tests). */
  constructor(
    private readonly logger?: Logger,
    private readonly partition?: string,
  ) {}

  report(err: unknown, hook: GameHook, entity?: EntityId): void {
    this.count++
    const n = ++this.byHook[hook]
    if (this.logger === undefined || (n & (n - 1)) !== 0) return
    this.logger.error({ err, partition: this.partition, hook, entity, errors: n }, `${COSTS[hook]} (logged at the 1st, 2nd, 4th, 8th… time)`)
  }
}

/**
 * The game's `wire` for one entity into `out`; if it throws, `out` is all zeros and the error is
 * reported. Called per entity per tick: no allocation here.
 */
export function wireFields<S>(game: Pick<Game<S, unknown>, 'wire'>, entity: Entity<S>, out: WireFields, faults: GameFaults): void {
  try {
    game.wire(entity, out)
  } catch (err) {
    out.kind = 0
    out.flags = 0
    out.hp = 0
    faults.report(err, 'wire', entity.id)
  }
}
