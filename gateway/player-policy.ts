/**
 * One player, one place: before a join, the gateway checks the player's session and the seats it
 * holds in other rooms (both from the caches). Policy `refuse` answers 409 `already_playing`;
 * `move` lets the join go ahead, dropping the player's reservations elsewhere (the worker that holds
 * the player's session kicks it when the new worker overwrites the session).
 */
import { decideRelease, holdsSeat, updateRoom } from '../core/rooms.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import type { Logger } from '../core/log.ts'
import { GatewayError } from './errors.ts'
import type { GatewayView } from './view.ts'

export type SessionPolicy = 'refuse' | 'move'

/** Where the player is elsewhere than `target` (a room or world id), or undefined if nowhere. */
export function elsewhere(view: GatewayView, playerId: string, target: string, now: number): { session?: string; seats: string[] } | undefined {
  const session = view.session(playerId)
  const seats = view.roomsWithSeatFor(playerId).filter((r) => r.id !== target && holdsSeat(r, playerId, now)).map((r) => r.id)
  const inOtherWorld = session !== undefined && session.worldId !== target
  if (!inOtherWorld && seats.length === 0) return undefined
  return { ...(inOtherWorld ? { session: session.worldId } : {}), seats }
}

export async function enforcePolicy(
  deps: { view: GatewayView; store: ClusterStore; keys: Keys; logger: Logger },
  policy: SessionPolicy,
  playerId: string,
  target: string,
  now: number,
): Promise<void> {
  const where = elsewhere(deps.view, playerId, target, now)
  if (!where) return
  if (policy === 'refuse') {
    const place = where.session ?? where.seats[0] ?? 'another room'
    throw new GatewayError('already_playing', `player ${playerId} is already in ${place}; leave it first`)
  }
  // Move: a reservation elsewhere would hold a seat the player will never use.
  for (const roomId of where.seats) {
    const res = await updateRoom(deps.store, deps.keys, roomId, (room) => (room.seats[playerId]?.kind === 'reserved' ? decideRelease(room, playerId, now) : 'unchanged'))
    if (!res.ok) deps.logger.debug({ roomId, playerId, code: res.code }, 'could not drop a reservation while moving a player')
  }
}
