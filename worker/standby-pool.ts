/**
 * Standby connections held by this worker: a player whose entity is near a border with one of our
 * partitions was told (`prepare`) to connect here ahead of its handoff, with a ticket marked
 * standby. The connection is parked: no entity is spawned, nothing is sent on it, inputs on it are
 * ignored. When the player's entity is handed to us, the runner that takes it in adopts the
 * connection (`join-accepted` as that entity, then its snapshots), and the client switches to it
 * without dialling. A connection whose player's entity never comes stays parked until its client
 * closes it (`unprepare`, or it moved elsewhere) or the worker that sent the player here releases
 * it (`StandbyReleased`: it told the player `unprepare`, or the player left it), whether or not the
 * client obeys; one past the pool's limit is refused.
 */
import type { TicketClaims } from '../core/tickets.ts'
import { Protocol } from '../core/wire/protocol.ts'
import { refusePlayer } from './player-link.ts'
import type { ClientConnection } from './transport/client-connection.ts'

type Conn = ClientConnection<TicketClaims>

export interface StandbyStats {
  /** Connections parked so far (replacements included). */
  parked: number
  /** Parked connections taken over by the runner that took their player's entity in. */
  adopted: number
  /** Closed while parked (by the client: it walked away or moved elsewhere; or on our stop). */
  closed: number
  /** Refused: the pool was full, or the worker is stopping. */
  refused: number
  /** An older parked connection of the same player closed for a newer one. */
  replaced: number
  /** Closed here because the worker that issued its ticket no longer wanted it. */
  released: number
}

const key = (worldId: string, playerId: string) => `${worldId}:${playerId}`

export class StandbyPool {
  private readonly parkedConns = new Map<string, Conn>()
  private stopped = false
  readonly stats: StandbyStats = { parked: 0, adopted: 0, closed: 0, refused: 0, replaced: 0, released: 0 }

  /** At most `limit` connections parked at once (one per player and world). */
  constructor(
    private readonly limit: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Connections parked now. */
  get size(): number {
    return this.parkedConns.size
  }

  has(worldId: string, playerId: string): boolean {
    return this.parkedConns.has(key(worldId, playerId))
  }

  /** Hold a standby connection (true), or refuse it. A newer one of the same player replaces the older. */
  park(conn: Conn): boolean {
    const { worldId, playerId } = conn.principal
    const k = key(worldId, playerId)
    const previous = this.parkedConns.get(k)
    if (this.stopped || (previous === undefined && this.parkedConns.size >= this.limit)) {
      this.stats.refused++
      const why = this.stopped ? 'this worker is stopping' : 'too many standby connections here'
      refusePlayer(conn, this.stopped ? 'shutting_down' : 'busy', why, this.now())
      return false
    }
    if (previous !== undefined) {
      this.parkedConns.delete(k)
      this.stats.replaced++
      previous.close(Protocol.closeCode.replaced)
    }
    this.parkedConns.set(k, conn)
    this.stats.parked++
    conn.onClose(() => {
      if (this.parkedConns.get(k) !== conn) return
      this.parkedConns.delete(k)
      this.stats.closed++
    })
    return true
  }

  /** The player's parked connection, handed over (no longer parked), if it is still open. */
  take(worldId: string, playerId: string): Conn | undefined {
    const k = key(worldId, playerId)
    const conn = this.parkedConns.get(k)
    if (conn === undefined) return undefined
    this.parkedConns.delete(k)
    if (!conn.open) return undefined
    this.stats.adopted++
    return conn
  }

  /**
   * `issuer` (the worker whose standby ticket it holds) no longer wants the player's parked
   * connection: closed, if it is still parked and that worker's. True when it was.
   */
  release(worldId: string, playerId: string, issuer: string): boolean {
    const k = key(worldId, playerId)
    const conn = this.parkedConns.get(k)
    if (conn === undefined || conn.principal.issuer !== issuer) return false
    this.parkedConns.delete(k)
    this.stats.released++
    conn.close(Protocol.closeCode.normal)
    return true
  }

  /** Close every parked connection (the worker stops); later ones are refused. */
  close(): void {
    this.stopped = true
    const conns = [...this.parkedConns.values()]
    this.parkedConns.clear()
    for (const conn of conns) {
      this.stats.closed++
      conn.close(Protocol.closeCode.going_away)
    }
  }
}
