/**
 * The cluster's key layout. Every key lives under one configurable prefix (default `/tessera/`) so
 * several clusters (or test runs) can share one etcd.
 *
 * | key                    | value                                    |
 * |------------------------|------------------------------------------|
 * | `workers/{id}`         | worker record (worker's lease)           |
 * | `coordinator/leader`   | election name; candidates below it       |
 * | `worlds/{id}`          | world spec                               |
 * | `worlds/{id}/map`      | partition map of the world               |
 * | `rooms/{id}`           | room → worker                            |
 * | `sessions/{playerId}`  | the player's one session (worker's lease)|
 * | `matchmaking/...`      | tickets and assignments (gateway's lease)|
 * | `tombstones/{id}`      | a world deleted on purpose (short lease)  |
 * | `coordinator/paused`   | "true" while rebalancing is paused        |
 * | `entity-ids/{worldId}` | the world's next free block of entity ids |
 * | `clock`                | the cluster's tick epoch (written once)  |
 *
 * `worlds/{id}` and `worlds/{id}/map` share a prefix, so `range(keys.worlds())` returns specs and
 * maps together. To read only specs, range `worlds()` and keep the keys for which
 * `worldIdOfSpec(key)` returns an id (it rejects `.../map`). To read one world's spec and map
 * together, range `world(id) + '/'` for the map and `get(world(id))` for the spec (ranging
 * `world(id)` alone would also match a world whose id merely starts with `id`).
 */

/** Default cluster prefix. */
export const DEFAULT_KEY_PREFIX = '/tessera/'

/** Key builders for one cluster prefix. Ids must be non-empty and contain no `/`. */
export class Keys {
  /** The cluster prefix, always ending in `/`. */
  readonly prefix: string

  /** @param prefix cluster prefix; a trailing `/` is added if missing. Default `/tessera/`. */
  constructor(prefix: string = DEFAULT_KEY_PREFIX) {
    this.prefix = prefix.endsWith('/') ? prefix : `${prefix}/`
  }

  /** A worker's record: `workers/{id}`. */
  worker(id: string): string {
    return `${this.prefix}workers/${segment(id)}`
  }

  /** Prefix of every worker record. */
  workers(): string {
    return `${this.prefix}workers/`
  }

  /** Election name of the coordinator leader (candidates are keys below `leader() + '/'`). */
  leader(): string {
    return `${this.prefix}coordinator/leader`
  }

  /** A world's spec: `worlds/{id}`. */
  world(id: string): string {
    return `${this.prefix}worlds/${segment(id)}`
  }

  /** Prefix of every world spec and map (see the module comment to range specs only). */
  worlds(): string {
    return `${this.prefix}worlds/`
  }

  /** A world's partition map: `worlds/{id}/map`. */
  worldMap(id: string): string {
    return `${this.world(id)}/map`
  }

  /** The world id if `key` is a world spec key (not a map or other sub-key), else undefined. */
  worldIdOfSpec(key: string): string | undefined {
    return this.leafId(key, this.worlds())
  }

  /** The world id if `key` is a world map key, else undefined. */
  worldIdOfMap(key: string): string | undefined {
    const prefix = this.worlds()
    if (!key.startsWith(prefix) || !key.endsWith('/map')) return undefined
    const id = key.slice(prefix.length, -'/map'.length)
    return id.length > 0 && !id.includes('/') ? id : undefined
  }

  /** A world's entity id counter (next free block): `entity-ids/{worldId}`. */
  entityIds(worldId: string): string {
    return `${this.prefix}entity-ids/${segment(worldId)}`
  }

  /** A room's placement: `rooms/{id}`. */
  room(id: string): string {
    return `${this.prefix}rooms/${segment(id)}`
  }

  /** Prefix of every room. */
  rooms(): string {
    return `${this.prefix}rooms/`
  }

  /** A player's session: `sessions/{playerId}`. */
  session(playerId: string): string {
    return `${this.prefix}sessions/${segment(playerId)}`
  }

  /** Prefix of every session. */
  sessions(): string {
    return `${this.prefix}sessions/`
  }

  /**
   * A matchmaking key: `matchmaking/{a}/{b}/...`; with no parts, the prefix of all of them
   * (ending in `/`). E.g. `matchmaking('queues', queue, ticketId)`.
   */
  matchmaking(...parts: string[]): string {
    return `${this.prefix}matchmaking/${parts.map(segment).join('/')}`
  }

  /**
   * Marks a world deleted on purpose: `tombstones/{id}`, written under a short lease with the
   * deletion, so a leader does not rebuild the world from reports its workers send before they
   * notice.
   */
  tombstone(worldId: string): string {
    return `${this.prefix}tombstones/${segment(worldId)}`
  }

  /** The cluster's tick epoch: wall-clock ms of tick 0, written once by the first worker. */
  clock(): string {
    return `${this.prefix}clock`
  }

  /** Operator's pause of rebalancing, kept in the store so a new leader honours it. */
  rebalancingPaused(): string {
    return `${this.prefix}coordinator/paused`
  }

  /** The id after `prefix` if nothing else follows it, else undefined. */
  private leafId(key: string, prefix: string): string | undefined {
    if (!key.startsWith(prefix)) return undefined
    const id = key.slice(prefix.length)
    return id.length > 0 && !id.includes('/') ? id : undefined
  }
}

/** Keys for a cluster prefix (default `/tessera/`). */
export function scopedKeys(prefix: string = DEFAULT_KEY_PREFIX): Keys {
  return new Keys(prefix)
}

// A `/` inside an id would make one entity's key a prefix of another's, breaking prefix ranges.
function segment(id: string): string {
  if (id.length === 0 || id.includes('/')) throw new RangeError(`invalid key segment ${JSON.stringify(id)}: must be non-empty without '/'`)
  return id
}
