/**
 * The context a simulation hands its game: fixed facts (dt, rng, bounds), the tick the simulation
 * advances, and the operations the simulation implements.
 */
import type { Entity, EntityId, GameContext, GhostView, Rect, Rng } from './game/types.ts'

export type ContextOps<S, M> = Omit<GameContext<S, M>, 'tick' | 'dt' | 'rng' | 'bounds' | 'worldBounds'>

/** The context handed to the game; `tick` is advanced by the simulation. */
export class SimContext<S, M> implements GameContext<S, M> {
  constructor(
    readonly dt: number,
    readonly rng: Rng,
    readonly bounds: Readonly<Rect>,
    public tick: number,
    private readonly ops: ContextOps<S, M>,
    readonly worldBounds: Readonly<Rect> = bounds,
  ) {}

  ghosts(): readonly GhostView[] {
    return this.ops.ghosts()
  }

  entities(): Iterable<Entity<S>> {
    return this.ops.entities()
  }

  get(id: EntityId): Entity<S> | undefined {
    return this.ops.get(id)
  }

  nearby(x: number, y: number, r: number, out: Entity<S>[]): Entity<S>[] {
    return this.ops.nearby(x, y, r, out)
  }

  send(from: EntityId, to: EntityId, payload: M): void {
    this.ops.send(from, to, payload)
  }

  spawnNpc(spec?: { x?: number; y?: number }): EntityId {
    return this.ops.spawnNpc(spec)
  }

  despawn(id: EntityId): void {
    this.ops.despawn(id)
  }
}
