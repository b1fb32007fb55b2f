/**
 * What the cluster store knows about a worker's players: a player who connects takes the seat the
 * gateway reserved (rooms) and gets `sessions/{playerId}` under this worker's lease; a player who
 * leaves frees the seat (so an empty room can be swept) and ends the session if it is still ours.
 * Store writes happen at join and leave only, never per tick.
 */
import type { Logger } from '../core/log.ts'
import { occupySeat, releaseSeat } from '../core/rooms.ts'
import { endSession, writeSession } from '../core/sessions.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import type { TicketClaims } from '../core/tickets.ts'

export interface PlayerRecordsOptions {
  store: ClusterStore
  keys: Keys
  workerId: string
  logger: Logger
  now?: () => number
}

/** The `onPlayer` hook of a Worker that keeps seats and sessions in the store. */
export function playerRecords(options: PlayerRecordsOptions): (event: 'joined' | 'left', claims: TicketClaims) => void {
  const { store, keys, workerId, logger } = options
  const now = options.now ?? Date.now
  // One player's join and leave are written in order, even when the leave comes first to mind.
  const chains = new Map<string, Promise<void>>()
  const inOrder = (playerId: string, work: () => Promise<void>) => {
    const next = (chains.get(playerId) ?? Promise.resolve()).then(work).catch((err: unknown) => {
      logger.warn({ err, playerId }, 'could not update the player in the store')
    })
    chains.set(playerId, next)
    void next.then(() => {
      if (chains.get(playerId) === next) chains.delete(playerId)
    })
  }

  return (event, claims) => {
    const { playerId, worldId } = claims
    const roomId = claims.roomId
    if (event === 'joined') {
      inOrder(playerId, async () => {
        if (roomId) {
          const seat = await occupySeat(store, keys, roomId, playerId, now())
          if (!seat.ok) logger.warn({ playerId, roomId, seat }, 'player connected without a seat')
        }
        // The session lives under this worker's lease: if the worker dies, the session goes too.
        const lease = (await store.get(keys.worker(workerId)))?.lease
        if (!lease) throw new Error(`worker ${workerId} is not registered`)
        await writeSession(store, keys, { playerId, worldId, workerId, ...(claims.partitionId ? { partitionId: claims.partitionId } : {}), since: now() }, lease)
      })
    } else {
      inOrder(playerId, async () => {
        if (roomId) await releaseSeat(store, keys, roomId, playerId, now())
        await endSession(store, keys, playerId, workerId)
      })
    }
  }
}
