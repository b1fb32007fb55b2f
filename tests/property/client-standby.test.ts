/**
 * The player library under any order of the moves a worker can announce: `prepare`, `unprepare`,
 * `migrate` and `stay` for any of three workers (at three addresses, or sharing one as the workers
 * of one process do), interleaved with the connections it opened
 * joining (as the player's entity, or as another) or dropping. A second connection of a player at
 * a worker replaces the first there, and with it the player's entity, so whatever happens:
 *
 * - the client never holds two connections to one worker that could become its session (a standby
 *   and a migration's, or either to where the session already is);
 * - it only ever switches to a connection that joined as its own entity, and stays connected;
 * - a connection it gave up is closed.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TesseraClient } from '../../client/client.ts'
import type { ConnectOptions } from '../../client/connection.ts'
import { ticketWorker } from '../../client/reconnect.ts'
import { FakeConnection, wire } from '../helpers/fake-connection.ts'

const SELF = 7
/** Three workers, `w9`, `w10` and `w11`: at ports 9, 10 and 11, or all at 9 (one process). */
const PORTS = [9, 10, 11] as const

/** A ticket naming its worker, as the client reads it (unsigned: the fakes do not verify). */
function ticketFor(port: number, jti: string): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${enc({ alg: 'EdDSA' })}.${enc({ wrk: `w${port}`, jti })}.sig`
}

type Command =
  | { kind: 'prepare' | 'unprepare' | 'migrate'; port: number }
  | { kind: 'stay' }
  | { kind: 'join' | 'join-other' | 'drop'; port: number }
  | { kind: 'snapshot' }

const port = fc.constantFrom(...PORTS)
/** Weighted so that connections opened are often joined: switches, not only the moves around them. */
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('prepare' as const), port }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('unprepare' as const, 'migrate' as const), port }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stay' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), port }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('join-other' as const, 'drop' as const), port }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
)

const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
}

/** Switches seen over all cases (the property must reach them, not only the moves around them). */
let switches = 0

async function run(commands: Command[], shared: boolean): Promise<void> {
  const url = (port: number) => `http://127.0.0.1:${shared ? 9 : port}`
  /** Dialled connections, by the worker their ticket names. */
  const dialled: Array<{ conn: FakeConnection; port: number }> = []
  const client = new TesseraClient({
    connect: async (o: ConnectOptions) => {
      const conn = new FakeConnection(o.ticket, dialled.length)
      dialled.push({ conn, port: Number(ticketWorker(o.ticket)?.slice(1)) })
      return conn
    },
    // Long enough that no timer fires within a case: only the commands move things.
    joinTimeoutMs: 60_000,
    reconnect: false,
  })
  const switched: number[] = []
  client.on('migrated', (m) => switched.push(m.entityId))
  try {
    const joining = client.joinWithTicket({ url: url(9), ticket: ticketFor(9, 'first') })
    await settle()
    const first = dialled[0]
    if (!first) throw new Error('no first connection')
    first.conn.join(SELF, 100)
    await joining
    /** The connection carrying the session: the last one to join as SELF that the client took. */
    let session = first
    /** The one it switched from (kept until the new one's first snapshot: it relays meanwhile). */
    let retiring: typeof first | undefined
    let tick = 100
    for (const c of commands) {
      if (c.kind === 'prepare' || c.kind === 'migrate') {
        session.conn.say({ kind: c.kind, url: url(c.port), ticket: ticketFor(c.port, c.kind), worldId: 'w' })
      } else if (c.kind === 'unprepare') {
        session.conn.say({ kind: 'unprepare', url: url(c.port), workerId: `w${c.port}`, worldId: 'w' })
      } else if (c.kind === 'stay') {
        session.conn.say({ kind: 'stay', worldId: 'w' })
      } else if (c.kind === 'snapshot') {
        session.conn.snapshot(++tick, [wire(SELF, 1, 1)])
      } else {
        // The newest open connection to that worker other than the session's.
        const target = dialled.filter((d) => d.port === c.port && d.conn.open && d.conn.listening && d !== session).at(-1)
        if (target && c.kind === 'drop') target.conn.drop('network')
        if (target && c.kind !== 'drop') {
          const before = switched.length
          target.conn.join(c.kind === 'join' ? SELF : SELF + 1, 1000)
          if (switched.length > before) {
            retiring = session
            session = target
          }
        }
      }
      await settle()

      // Standbys and migrations' dials: open, and neither the session nor the one it left.
      const ports = dialled.filter((d) => d.conn.open && d !== session && d !== retiring).map((d) => d.port)
      expect(new Set(ports).size, `pending connections to one worker: ${JSON.stringify(ports)} after ${JSON.stringify(c)}`).toBe(ports.length)
      expect(ports, `a pending connection to the session's worker after ${JSON.stringify(c)}`).not.toContain(session.port)
      expect(client.state).toBe('connected')
      expect(client.self).toBe(SELF)
      expect(switched.every((id) => id === SELF)).toBe(true)
    }
  } finally {
    client.close()
    switches += switched.length
  }
  // Everything closed with the client.
  expect(dialled.filter((d) => d.conn.open)).toEqual([])
}

describe('the player library under any order of announced moves', () => {
  it('never holds two connections to one worker that could become its session, and switches only to its own entity', async () => {
    await fc.assert(fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), fc.boolean(), (commands, shared) => run(commands, shared)), { numRuns: 300 })
    expect(switches).toBeGreaterThan(50)
  })
})
