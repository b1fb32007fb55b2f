/**
 * Player sessions (`sessions/{playerId}`): where a player is connected right now. The worker that
 * accepts a player writes the session under its own lease, so a crashed worker's sessions vanish with
 * it; gateways read sessions from a watch cache to keep a player in one room or world at a time.
 *
 * When a player moves, the new worker overwrites the session; the old worker sees its session key
 * change to another worker (through its own watch) and kicks the player.
 */
import { z } from 'zod'
import { decodeRecord } from './records.ts'
import type { Keys } from './store/keys.ts'
import type { ClusterStore, LeaseId } from './store/types.ts'

export const sessionSchema = z.object({
  playerId: z.string().min(1),
  /** The world (or room: a room is a one-partition world) the player is in. */
  worldId: z.string().min(1),
  workerId: z.string().min(1),
  partitionId: z.string().optional(),
  /** ms since the epoch. */
  since: z.number(),
})
export type Session = z.infer<typeof sessionSchema>

export function decodeSession(key: string, json: string): Session {
  return decodeRecord(sessionSchema, key, json)
}

/** Worker: record that `session.playerId` is connected here, under the worker's lease. */
export async function writeSession(store: ClusterStore, keys: Keys, session: Session, lease: LeaseId): Promise<number> {
  return store.put(keys.session(session.playerId), JSON.stringify(sessionSchema.parse(session)), { lease })
}

export async function readSession(store: ClusterStore, keys: Keys, playerId: string): Promise<Session | undefined> {
  const kv = await store.get(keys.session(playerId))
  return kv && decodeSession(kv.key, kv.value)
}

/**
 * Worker: the player left. Deletes the session only if it still names this worker (a newer worker
 * may have taken the player over); returns whether it deleted it.
 */
export async function endSession(store: ClusterStore, keys: Keys, playerId: string, workerId: string): Promise<boolean> {
  const key = keys.session(playerId)
  const kv = await store.get(key)
  if (!kv) return false
  let owner: string | undefined
  try {
    owner = decodeSession(key, kv.value).workerId
  } catch {
    owner = undefined
  }
  if (owner !== undefined && owner !== workerId) return false
  const res = await store.txn({ compare: [{ key, target: 'modRevision', op: '==', value: kv.modRevision }], success: [{ type: 'delete', key }] })
  return res.succeeded
}
