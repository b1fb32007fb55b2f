/**
 * The gateway's read side: live watch caches of rooms, sessions, workers, worlds and their maps, plus
 * an index of which rooms hold a seat for each player. Every lookup on the join path is answered from
 * here; only writes go to the store.
 */
import type { Logger } from '../core/log.ts'
import { decodeMap } from '../core/partition-map.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import { PrefixCache } from '../core/prefix-cache.ts'
import type { CacheChange } from '../core/prefix-cache.ts'
import { decodeRecord, workerRecordSchema, worldSpecSchema } from '../core/records.ts'
import type { WorkerRecord, WorldSpec } from '../core/records.ts'
import { decodeRoom } from '../core/rooms.ts'
import type { RoomRecord, VersionedRoom } from '../core/rooms.ts'
import { decodeSession } from '../core/sessions.ts'
import type { Session } from '../core/sessions.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'

export class GatewayView {
  readonly rooms: PrefixCache<RoomRecord>
  readonly sessions: PrefixCache<Session>
  readonly workers: PrefixCache<WorkerRecord>
  readonly worlds: PrefixCache<WorldSpec>
  readonly maps: PrefixCache<PartitionMap>
  /** playerId → ids of rooms whose record lists a seat (possibly lapsed) for the player. */
  private readonly seatsByPlayer = new Map<string, Set<string>>()

  constructor(store: ClusterStore, private readonly keys: Keys, logger: Logger) {
    this.rooms = new PrefixCache({ store, prefix: keys.rooms(), logger, decode: (key, value) => decodeRoom(key, value) })
    this.sessions = new PrefixCache({ store, prefix: keys.sessions(), logger, decode: (key, value) => decodeSession(key, value) })
    this.workers = new PrefixCache({ store, prefix: keys.workers(), logger, decode: (key, value) => decodeRecord(workerRecordSchema, key, value) })
    this.worlds = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfSpec(key) === undefined ? undefined : decodeRecord(worldSpecSchema, key, value)),
    })
    this.maps = new PrefixCache({
      store, prefix: keys.worlds(), logger,
      decode: (key, value) => (keys.worldIdOfMap(key) === undefined ? undefined : decodeMap(value)),
    })
    this.rooms.onChange((changes) => this.indexSeats(changes))
  }

  async start(): Promise<void> {
    await Promise.all([this.rooms.start(), this.sessions.start(), this.workers.start(), this.worlds.start(), this.maps.start()])
  }

  async stop(): Promise<void> {
    await Promise.all([this.rooms.stop(), this.sessions.stop(), this.workers.stop(), this.worlds.stop(), this.maps.stop()])
  }

  room(roomId: string): VersionedRoom | undefined {
    const e = this.rooms.get(this.keys.room(roomId))
    return e && { room: e.value, modRevision: e.modRevision }
  }

  session(playerId: string): Session | undefined {
    return this.sessions.get(this.keys.session(playerId))?.value
  }

  worker(id: string): WorkerRecord | undefined {
    return this.workers.get(this.keys.worker(id))?.value
  }

  world(id: string): WorldSpec | undefined {
    return this.worlds.get(this.keys.world(id))?.value
  }

  map(id: string): PartitionMap | undefined {
    return this.maps.get(this.keys.worldMap(id))?.value
  }

  /** Rooms whose record lists a seat for the player (the caller checks whether it is still live). */
  roomsWithSeatFor(playerId: string): RoomRecord[] {
    const ids = this.seatsByPlayer.get(playerId)
    if (!ids) return []
    const out: RoomRecord[] = []
    for (const id of ids) {
      const r = this.room(id)?.room
      if (r) out.push(r)
    }
    return out
  }

  /** The record is about to be written by this gateway: its watch event need not be decoded again. */
  readonly expectRoom = (key: string, json: string, room: RoomRecord): void => {
    this.rooms.expect(key, json, room)
  }

  /** Only the players who gained or lost a seat are re-indexed: a join changes one of many. */
  private indexSeats(changes: CacheChange<RoomRecord>[]): void {
    for (const c of changes) {
      const prev = c.prev?.value
      const next = c.type === 'put' ? c.entry.value : undefined
      // A record is indexed under its own id, which is normally the same before and after.
      const same = prev !== undefined && next !== undefined && prev.id === next.id
      if (prev) for (const player in prev.seats) if (!same || !Object.hasOwn(next.seats, player)) this.unindex(player, prev.id)
      if (!next) continue
      for (const player in next.seats) {
        if (same && Object.hasOwn(prev.seats, player)) continue
        let set = this.seatsByPlayer.get(player)
        if (!set) this.seatsByPlayer.set(player, (set = new Set()))
        set.add(next.id)
      }
    }
  }

  private unindex(player: string, roomId: string): void {
    const set = this.seatsByPlayer.get(player)
    if (!set) return
    set.delete(roomId)
    if (set.size === 0) this.seatsByPlayer.delete(player)
  }
}
