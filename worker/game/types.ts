/**
 * The interface a game implements to run on Tessera workers. The simulation owns entities, ids,
 * inputs, time and networking; the game decides what entities do. Everything a game may touch is
 * in the context it is handed, so a game is deterministic given the seed and the inputs.
 *
 * `S` is the game's typed per-entity state; `M` the type of messages entities send each other.
 */

export type EntityId = number

export interface Rect {
  minX: number
  minY: number
  maxX: number
  maxY: number
}

export interface Entity<S> {
  readonly id: EntityId
  /** Who drives it: a connected player's inputs, or the game itself. */
  readonly control: 'player' | 'npc'
  /** The player driving it (null for NPCs). */
  readonly playerId: string | null
  /** Position in world units. */
  x: number
  y: number
  /** Velocity in world units per second. */
  vx: number
  vy: number
  /** Facing in radians. */
  heading: number
  /** Collision radius in world units. */
  radius: number
  state: S
}

export type SpawnSpec =
  | { type: 'player'; playerId: string; x?: number; y?: number }
  | { type: 'npc'; x?: number; y?: number }

export interface SpawnResult<S> {
  x: number
  y: number
  /** Default 0.5. */
  radius?: number
  heading?: number
  state: S
}

/** A player's input as the game sees it: axes dequantised to -1..1. */
export interface PlayerInput {
  seq: number
  tick: number
  moveX: number
  moveY: number
  buttons: number
}

/** The small typed field set snapshots carry besides position and motion (each 0..255, hp 0..65535). */
export interface WireFields {
  kind: number
  flags: number
  hp: number
}

/** Seeded pseudo-random numbers: the only randomness a game may use. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [0, n). */
  int(n: number): number
  /** Uniform in [min, max). */
  range(min: number, max: number): number
}

/**
 * A read-only copy of an entity owned by a neighbouring partition (possibly on another worker), as
 * of the end of the previous tick. The game may look at it and send it messages (`send`), which its
 * owner delivers at its next tick; it cannot change it.
 */
export interface GhostView {
  readonly id: EntityId
  readonly x: number
  readonly y: number
  /** Facing in radians. */
  readonly heading: number
  /** World units per second. */
  readonly speed: number
  readonly fields: Readonly<WireFields>
}

/** Turns a game's per-entity state into bytes and back, for handoffs between workers. */
export interface StateCodec<S> {
  encode(state: S): Uint8Array
  decode(bytes: Uint8Array): S
}

export interface GameContext<S, M> {
  /** The tick being simulated. */
  readonly tick: number
  /** Seconds per tick. */
  readonly dt: number
  readonly rng: Rng
  /** The partition's (or room's) area: where its entities spawn. */
  readonly bounds: Readonly<Rect>
  /**
   * The whole world's area (a room's: its own). Entities may walk anywhere in it: one that leaves
   * `bounds` is handed to the partition it entered. Default: `bounds`.
   */
  readonly worldBounds: Readonly<Rect>
  /**
   * The entities to step this tick, in the order they came to this partition (spawned, joined or
   * handed here). An entity handed here by a worker that already stepped it at this tick number
   * (its tick comes earlier in the interval) is left out until the next one, so no entity is
   * stepped twice under one number; `get` finds it meanwhile.
   */
  entities(): Iterable<Entity<S>>
  get(id: EntityId): Entity<S> | undefined
  /**
   * Entities whose position at the end of the previous tick was within `r` of (x, y), appended to
   * `out` (cleared first). Cheap: it reads the interest index built last tick.
   */
  nearby(x: number, y: number, r: number, out: Entity<S>[]): Entity<S>[]
  /** Ghosts from neighbouring partitions near the border, as of the end of the previous tick, in id order. */
  ghosts(): readonly GhostView[]
  /**
   * Queue `payload` for entity `to`; delivered at the start of the next tick. A ghost's owner gets
   * it at its next tick (messages between workers cross in the same tick's batch).
   */
  send(from: EntityId, to: EntityId, payload: M): void
  /**
   * Spawn an NPC now (it is simulated from the next tick). Throws `EntityIdsUnavailable` when the
   * worker has no id left for the world (the cluster store out of reach for long).
   */
  spawnNpc(spec?: { x?: number; y?: number }): EntityId
  /** Remove an NPC at the end of this tick. */
  despawn(id: EntityId): void
}

/**
 * A game: the rules a partition runs. If `message`, `input` or `tick` throws, the partition loses
 * the rest of that tick's game logic and goes on from the next tick; if `wire` throws, that
 * entity's snapshot fields are zero for that tick (it is still shown, with its position); if
 * `leave` throws, the player is removed all the same; if the state codec throws for an entity, that
 * entity is left out of that ghost batch, or that handoff is not made (its owner keeps it); if the
 * message codec throws for a message between workers, that message alone is dropped. Errors are
 * logged (per hook, at the 1st, 2nd, 4th… time); the worker's other partitions are not affected.
 */
export interface Game<S, M = never> {
  readonly name: string
  /** Initial position and state of a new player or NPC entity. */
  spawn(ctx: GameContext<S, M>, spec: SpawnSpec): SpawnResult<S>
  /** One input of a player, applied exactly once, in sequence order, before `tick`. */
  input(ctx: GameContext<S, M>, entity: Entity<S>, input: PlayerInput): void
  /** Advance the world by `dt` seconds. */
  tick(ctx: GameContext<S, M>, dt: number): void
  /** A player's entity is about to be removed. */
  leave(ctx: GameContext<S, M>, entity: Entity<S>): void
  /** A message sent last tick by `from` (which may be gone by now). */
  message(ctx: GameContext<S, M>, from: EntityId, to: Entity<S>, payload: M): void
  /** Fill the snapshot fields for `entity` (called for every entity every tick: keep it cheap). */
  wire(entity: Entity<S>, out: WireFields): void
  /**
   * A few facts about an entity's game state for operators (the worker's `/debug/entities`); called
   * only when someone asks. Default: nothing beyond id, position and player.
   */
  inspect?(entity: Readonly<Entity<S>>): Readonly<Record<string, number | string | boolean>>
  /**
   * Encodes entity state and messages for handoffs and messages between workers. Default: JSON,
   * which suits plain-data state and messages.
   */
  readonly codec?: { state: StateCodec<S>; message: StateCodec<M> }
}
