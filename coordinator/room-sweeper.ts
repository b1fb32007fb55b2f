/**
 * Removing rooms nobody uses: the leader, once per planning round, deletes every room that has been
 * empty (no occupied seat, no unexpired reservation) for longer than its grace period, and every
 * room its gateway left stuck in `placing`. One actor does it, so gateways never race each other
 * over a room's end.
 *
 * Each removal is one transaction fenced on the leader's election key and on the room record's
 * modRevision (a player who took a seat meanwhile keeps the room): it deletes the room record, the
 * world spec and the map, and writes a tombstone under a short lease so the leader does not rebuild
 * the world from load reports its worker sends before it notices. The worker stops simulating the
 * room when its map disappears, and its reported load, hence its free capacity, follows.
 */
import type { Logger } from '../core/log.ts'
import { decodeRoom, isSweepable } from '../core/rooms.ts'
import type { RoomRecord } from '../core/rooms.ts'
import type { Leadership } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore, Lease } from '../core/store/types.ts'
import type { EventLog } from './events.ts'

export interface RoomSweeperDeps {
  store: ClusterStore
  keys: Keys
  logger: Logger
  events?: EventLog
  /** Lifetime of a removed room's tombstone, seconds. Default 60. */
  tombstoneTtlSeconds?: number
  now?: () => number
}

export class RoomSweeper {
  constructor(private readonly deps: RoomSweeperDeps) {}

  /** Remove the rooms due for removal; returns their ids. */
  async sweep(lead: Leadership): Promise<string[]> {
    const { store, keys, logger } = this.deps
    const now = (this.deps.now ?? Date.now)()
    const { kvs } = await store.range(keys.rooms())
    const due: { room: RoomRecord; modRevision: number }[] = []
    for (const kv of kvs) {
      try {
        const room = decodeRoom(kv.key, kv.value)
        if (isSweepable(room, now)) due.push({ room, modRevision: kv.modRevision })
      } catch (err) {
        logger.warn({ err, key: kv.key }, 'ignoring a room record that does not decode')
      }
    }
    if (due.length === 0) return []
    let lease: Lease | undefined
    const removed: string[] = []
    try {
      lease = await store.grantLease(this.deps.tombstoneTtlSeconds ?? 60, { keepAlive: false })
      for (const { room, modRevision } of due) {
        if (lead.isLost) break
        const res = await store.txn({
          compare: [
            { key: lead.key, target: 'createRevision', op: '==', value: lead.revision },
            { key: keys.room(room.id), target: 'modRevision', op: '==', value: modRevision },
          ],
          success: [
            { type: 'delete', key: keys.room(room.id) },
            { type: 'delete', key: keys.world(room.id) },
            { type: 'delete', key: keys.worldMap(room.id) },
            { type: 'put', key: keys.tombstone(room.id), value: JSON.stringify({ reason: room.state === 'placing' ? 'placement-abandoned' : 'room-empty', at: now }), lease: lease.id },
          ],
        })
        if (!res.succeeded) continue
        removed.push(room.id)
        this.deps.events?.publish({
          type: 'decision', worldId: room.id,
          message: room.state === 'placing' ? `removed room ${room.id}: placement abandoned` : `removed room ${room.id}: empty past its grace period`,
          details: { kind: 'remove-room', ...(room.workerId !== undefined ? { workerId: room.workerId } : {}) },
          ...(room.workerId !== undefined ? { workerId: room.workerId } : {}),
        })
      }
    } finally {
      // Keep the lease running out on its own: revoking it would drop the tombstones now.
      lease?.release()
    }
    if (removed.length > 0) logger.info({ rooms: removed }, 'removed rooms')
    return removed
  }
}
