/**
 * The player library following `migrate` over fake connections: it dials the new worker while the
 * old connection keeps serving, switches on join-accepted as the same entity, continues the input
 * numbering there, keeps the game's entity stream continuous (no entity removed and added back),
 * stays on the old connection when the new one fails (and tries again), and lets a newer order
 * replace a pending one. And standby connections opened on `prepare`, switched to on their
 * join-accepted (the worker there took the entity in), closed on `unprepare` or when the move went
 * elsewhere, never doubled by a migrate to the same worker.
 */
import { describe, expect, it } from 'vitest'
import { TesseraClient } from '../../client/client.ts'
import type { ClientMigrated } from '../../client/client.ts'
import type { ConnectOptions } from '../../client/connection.ts'
import { ConnectError } from '../../client/connection.ts'
import { Migration } from '../../client/migration.ts'
import type { MigrationHost } from '../../client/migration.ts'
import { defaultBackoff } from '../../client/reconnect.ts'
import type { Session } from '../../client/session.ts'
import { FakeConnection, wire } from '../helpers/fake-connection.ts'
import { eventually } from '../helpers/eventually.ts'

const OLD_URL = 'http://127.0.0.1:9'
const NEW_URL = 'http://127.0.0.1:10'
const SELF = 1

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${enc({ alg: 'EdDSA' })}.${enc(claims)}.sig`
}

interface Dialled {
  conn: FakeConnection
  port: number
}

/** A joined client whose connections are fakes; `refuse` makes the next connects to a port fail. */
async function joinedClient(options: { migrate?: boolean; standby?: boolean; joinTimeoutMs?: number } = {}) {
  const dialled: Dialled[] = []
  const refuse = new Map<number, number>()
  const connect = async (o: ConnectOptions): Promise<FakeConnection> => {
    const left = refuse.get(o.port) ?? 0
    if (left > 0) {
      refuse.set(o.port, left - 1)
      throw new ConnectError('refused', 'server refused the connection (503)', 503)
    }
    const conn = new FakeConnection(o.ticket, dialled.length)
    dialled.push({ conn, port: o.port })
    return conn
  }
  const client = new TesseraClient({
    connect, reconnect: { initialMs: 5, maxMs: 20, maxAttempts: 4 }, random: () => 0.5,
    ...(options.migrate === false ? { migrate: false } : {}), ...(options.standby === false ? { standby: false } : {}),
    ...(options.joinTimeoutMs !== undefined ? { joinTimeoutMs: options.joinTimeoutMs } : {}),
  })
  const log: string[] = []
  const errors: string[] = []
  const migrated: ClientMigrated[] = []
  client.on('entityAdded', (e) => log.push(`+${e.id}`))
  client.on('entityUpdated', (e) => log.push(`~${e.id}`))
  client.on('entityRemoved', (e) => log.push(`-${e.id}`))
  client.on('error', (e) => errors.push(e.code))
  client.on('migrated', (m) => migrated.push(m))
  const ticket = jwt({ exp: Math.floor(Date.now() / 1000) + 60 })
  const joining = client.joinWithTicket({ url: OLD_URL, ticket })
  await eventually('first connection', () => dialled[0]?.conn.listening)
  const old = (dialled[0] as Dialled).conn
  old.join(SELF, 100)
  await joining
  /** Connection number `i` once a session listens on it. */
  const conn = (i: number) => eventually(`connection ${i}`, () => (dialled[i]?.conn.listening ? dialled[i] : undefined))
  return { client, dialled, refuse, old, log, errors, migrated, ticket, conn }
}

function migrate(conn: FakeConnection, ticket = 'next', url = NEW_URL): void {
  conn.say({ kind: 'migrate', url, ticket, worldId: 'w' })
}

/** Every input sequence number carried by the INPUT packets sent on `conn`. */
function carried(conn: FakeConnection): number[] {
  return conn.inputs().flatMap((p) => p.inputs.map((i) => i.seq))
}

/** Sequence numbers of the newest input of every INPUT packet sent on `conn`. */
function newestSeqs(conn: FakeConnection): number[] {
  return conn.inputs().map((p) => p.inputs[0]?.seq ?? 0)
}

describe('TesseraClient migration', () => {
  it('dials the new worker while the old connection serves, and switches on join-accepted as the same entity', async () => {
    const { client, old, conn, migrated } = await joinedClient()
    old.snapshot(101, [wire(SELF, 1, 1)])
    migrate(old)
    const next = await conn(1)
    expect(next.conn.ticket).toBe('next')
    expect(next.port).toBe(10)
    // Not switched yet: the old connection is still the session.
    expect(old.open).toBe(true)
    expect(client.stats().migrations).toBe(0)
    next.conn.join(SELF, 5000)
    expect(client.self).toBe(SELF)
    expect(client.joinInfo?.tick).toBe(5000)
    expect(client.state).toBe('connected')
    expect(migrated).toEqual([{ from: OLD_URL, to: NEW_URL, entityId: SELF, worldId: 'r1', partition: null }])
    // The old connection stays until the new one's first snapshot has taken over the view.
    expect(old.open).toBe(true)
    next.conn.snapshot(5001, [wire(SELF, 1, 2)])
    expect(old.open).toBe(false)
    expect(client.selfPosition()).toEqual({ x: 1, y: 2 })
    expect(client.stats()).toMatchObject({ migrations: 1, reconnects: 0, state: 'connected' })
    // From now on acknowledgements go to the new connection only.
    const sentOld = old.sent.length
    await eventually('ack on the new connection', () => next.conn.sentTypes().includes('ack'))
    expect(old.sent.length).toBe(sentOld)
    client.close()
    expect(next.conn.open).toBe(false)
  })

  it('continues the input sequence on the new connection, resending the unacknowledged inputs there', async () => {
    const { client, old, conn } = await joinedClient()
    let walking = true
    client.on('tick', () => {
      if (walking) client.sendInput({ moveX: 1, moveY: 0 })
    })
    await eventually('six inputs on the old connection', () => old.inputs().length >= 6)
    walking = false
    // The old worker has applied 4 (relayed to the new owner); 5 and 6 are still unacknowledged.
    const sentBefore = client.stats().inputsSent
    old.snapshot(110, [wire(SELF, 1, 1)], 4)
    migrate(old)
    const next = (await conn(1)).conn
    const oldPackets = old.inputs().length
    next.join(SELF, 9000)
    walking = true
    await eventually('inputs on the new connection', () => next.inputs().length >= 3)
    walking = false
    // Nothing more went to the old connection after the switch.
    expect(old.inputs().length).toBe(oldPackets)
    // The first packet there repeats the inputs the old connection left unacknowledged (5 and 6).
    expect(next.inputs()[0]?.inputs.at(-1)?.seq).toBe(5)
    expect(next.inputs()[0]?.inputs.map((i) => i.seq)).toContain(sentBefore)
    // Together the two connections carried 1, 2, 3… without a gap, the new one nothing at or below the ack.
    const seqs = [...new Set([...carried(old), ...carried(next)])].sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => k + 1))
    expect(Math.min(...carried(next))).toBe(5)
    expect(newestSeqs(next).every((s, k, all) => k === 0 || s >= (all[k - 1] as number))).toBe(true)
    // The new owner acknowledges the lot: the counts are per lane, not summed per connection.
    const last = seqs.at(-1) as number
    next.snapshot(9010, [wire(SELF, 2, 1)], last)
    expect(client.stats()).toMatchObject({ inputsSent: last, inputsAcked: last, ackRegressions: 0 })
    client.close()
  })

  it('keeps the entity stream continuous: entities on both sides are updates, never removed and added back', async () => {
    const { client, old, conn, log } = await joinedClient()
    old.snapshot(101, [wire(SELF, 1, 1), wire(2, 5, 5), wire(3, 6, 6)])
    expect(log).toEqual([`+${SELF}`, '+2', '+3'])
    log.length = 0
    migrate(old)
    const next = (await conn(1)).conn
    // A snapshot before join-accepted (its datagram overtook the control frame): not applied yet.
    next.snapshot(4999, [wire(SELF, 1, 1), wire(2, 5, 5), wire(4, 9, 9)])
    expect(log).toEqual([])
    next.join(SELF, 5000)
    // Between the switch and the new worker's first snapshot, the old (relaying) one keeps the view fresh.
    old.snapshot(102, [wire(SELF, 2, 1), wire(2, 5, 5), wire(3, 6, 7)])
    expect(log).toEqual([`~${SELF}`, '~3'])
    log.length = 0
    // The new worker's first snapshot after the switch is reconciled whole: 2 and self stay, 3 left, 4 came.
    next.snapshot(5001, [wire(SELF, 3, 1), wire(2, 5, 5), wire(4, 9, 9)])
    expect(log).toEqual(['-3', '+4', `~${SELF}`])
    expect([...client.entities()].map((e) => e.id).sort((a, b) => a - b)).toEqual([SELF, 2, 4])
    // The old connection is gone: nothing it might still deliver reaches the view.
    expect(old.open).toBe(false)
    log.length = 0
    old.snapshot(103, [wire(2, 5, 5)])
    expect(log).toEqual([])
    client.close()
  })

  it('never shows the game a tick going back at a switch: the new worker\'s snapshots older than the last one shown are passed over', async () => {
    const { client, old, conn, log } = await joinedClient()
    const ticks: number[] = []
    client.on('snapshot', ({ tick }) => ticks.push(tick))
    old.snapshot(500, [wire(SELF, 1, 1), wire(2, 5, 5), wire(3, 6, 6)])
    migrate(old)
    const next = (await conn(1)).conn
    next.join(SELF, 500)
    // The old worker ran tick 501 before the new one delivered 500 (it was stalled).
    old.snapshot(501, [wire(SELF, 2, 1), wire(2, 5, 5), wire(3, 6, 6)])
    log.length = 0
    next.snapshot(500, [wire(SELF, 2, 1), wire(2, 5, 5), wire(4, 9, 9)])
    // Not shown, but the new connection delivers: the old one is closed.
    expect(log).toEqual([])
    expect(old.open).toBe(false)
    // The first one not behind is shown whole (3 left, 4 came), as any first snapshot after a
    // switch: here one for the tick shown last (the new worker runs it later in the interval).
    next.snapshot(501, [wire(SELF, 3, 1), wire(2, 5, 5), wire(4, 9, 9)])
    expect(log).toEqual(['-3', '+4', `~${SELF}`])
    expect(ticks).toEqual([500, 501, 501])
    expect(client.stats()).toMatchObject({ behindAtSwitch: 1, badSnapshots: 0 })
    // Later snapshots follow as usual; an older one within the session is stale, as ever.
    next.snapshot(502, [wire(SELF, 4, 1), wire(2, 5, 5), wire(4, 9, 9)])
    next.snapshot(500, [wire(SELF, 4, 1), wire(2, 5, 5), wire(4, 9, 9)])
    expect(ticks).toEqual([500, 501, 501, 502])
    client.close()
  })

  it('passes over a new worker catching up from a stall, up to a second of ticks behind; one further behind is believed at once', async () => {
    const { client, old, conn, log } = await joinedClient()
    const ticks: number[] = []
    client.on('snapshot', ({ tick }) => ticks.push(tick))
    old.snapshot(900, [wire(SELF, 1, 1)])
    migrate(old)
    const next = (await conn(1)).conn
    next.join(SELF, 890)
    log.length = 0
    // Ten ticks behind, catching up: passed over until it is at 900.
    for (let t = 890; t <= 901; t++) next.snapshot(t, [wire(SELF, t - 880, 1)])
    expect(ticks).toEqual([900, 900, 901])
    expect(client.stats()).toMatchObject({ behindAtSwitch: 10 })
    // Another switch, to a worker on another clock (far behind): believed at once.
    migrate(next, 'third', 'http://127.0.0.1:11')
    const third = (await conn(2)).conn
    third.join(SELF, 100)
    third.snapshot(100, [wire(SELF, 50, 1)])
    third.snapshot(101, [wire(SELF, 51, 1)])
    expect(ticks).toEqual([900, 900, 901, 100, 101])
    expect(log.at(-1)).toBe(`~${SELF}`)
    expect(client.stats()).toMatchObject({ behindAtSwitch: 10, migrations: 2 })
    client.close()
  })

  it('stays on the old connection when the new one fails, and tries again', async () => {
    const { client, old, conn, errors, migrated } = await joinedClient()
    old.snapshot(101, [wire(SELF, 1, 1)])
    migrate(old)
    const first = (await conn(1)).conn
    first.drop('network')
    await eventually('the failure reported', () => errors.length === 1)
    expect(errors).toEqual(['migrate_failed'])
    expect(client.state).toBe('connected')
    expect(old.open).toBe(true)
    // Still served by the old connection: it sends there.
    const sent = old.sent.length
    old.snapshot(102, [wire(SELF, 1, 2)])
    await eventually('an ack on the old connection', () => old.sent.length > sent)
    // The retry (same ticket) works.
    const second = (await conn(2)).conn
    expect(second.ticket).toBe('next')
    second.join(SELF, 300)
    expect(migrated).toHaveLength(1)
    second.snapshot(301, [wire(SELF, 1, 3)])
    expect(old.open).toBe(false)
    expect(client.stats().migrations).toBe(1)
    client.close()
  })

  it('refuses a new connection that joins as another entity, and survives refused connects', async () => {
    const { client, old, conn, errors, refuse, dialled } = await joinedClient()
    refuse.set(10, 1)
    migrate(old)
    // The first connect is refused (503): a second attempt follows, which joins as a stranger.
    const stranger = (await conn(1)).conn
    expect(errors).toEqual(['migrate_failed'])
    stranger.join(SELF + 1, 300)
    expect(stranger.open).toBe(false)
    expect(client.self).toBe(SELF)
    await eventually('the failure reported', () => errors.length === 2)
    expect(errors).toEqual(['migrate_failed', 'migrate_failed'])
    expect(old.open).toBe(true)
    const third = (await conn(2)).conn
    third.join(SELF, 400)
    expect(client.stats().migrations).toBe(1)
    expect(dialled.map((d) => d.port)).toEqual([9, 10, 10])
    client.close()
  })

  it('lets a second migrate replace a pending one', async () => {
    const { client, old, conn, migrated } = await joinedClient()
    migrate(old, 'to-b', 'http://127.0.0.1:10')
    const b = (await conn(1)).conn
    migrate(old, 'to-c', 'http://127.0.0.1:11')
    const c = await conn(2)
    expect(b.open).toBe(false)
    expect(c.conn.ticket).toBe('to-c')
    expect(c.port).toBe(11)
    // The abandoned connection's late join-accepted changes nothing.
    b.join(SELF, 1)
    expect(migrated).toEqual([])
    c.conn.join(SELF, 2)
    expect(migrated.map((m) => m.to)).toEqual(['http://127.0.0.1:11'])
    client.close()
  })

  it('reconnects after a migration with the latest ticket while it is valid', async () => {
    const { client, old, conn } = await joinedClient()
    const ticket = jwt({ exp: Math.floor(Date.now() / 1000) + 30 })
    migrate(old, ticket)
    const next = (await conn(1)).conn
    next.join(SELF, 50)
    next.snapshot(51, [wire(SELF, 1, 1)])
    next.drop('network')
    await eventually('reconnecting', () => client.state === 'reconnecting')
    const again = await conn(2)
    expect(again.conn.ticket).toBe(ticket)
    expect(again.port).toBe(10)
    again.conn.join(12, 80)
    await eventually('connected again', () => client.state === 'connected')
    expect(client.stats()).toMatchObject({ reconnects: 1, migrations: 1 })
    client.close()
  })

  it('falls back to the original grant when the latest ticket no longer works', async () => {
    const { client, old, conn, ticket } = await joinedClient()
    migrate(old)
    const next = (await conn(1)).conn
    next.join(SELF, 50)
    next.drop('network')
    // The worker the player migrated to does not own it any more: not_owner, not curable with that ticket.
    const refused = (await conn(2)).conn
    expect(refused.ticket).toBe('next')
    refused.say({ kind: 'error', code: 'not_owner', message: 'moved on' })
    refused.drop('server-closed', 1000)
    const home = await conn(3)
    expect(home.conn.ticket).toBe(ticket)
    expect(home.port).toBe(9)
    home.conn.join(12, 80)
    await eventually('connected again', () => client.state === 'connected')
    expect(client.self).toBe(12)
    client.close()
  })

  it('abandons a pending migration when the old connection drops, and does nothing with migrate: false', async () => {
    const { client, old, conn } = await joinedClient()
    migrate(old)
    const next = (await conn(1)).conn
    old.drop('network')
    expect(next.open).toBe(false)
    await eventually('reconnecting', () => client.state === 'reconnecting')
    client.close()

    const off = await joinedClient({ migrate: false })
    migrate(off.old)
    await new Promise((r) => setTimeout(r, 30))
    expect(off.dialled).toHaveLength(1)
    off.client.close()
  })
})

describe('Migration', () => {
  it('gives up when the ticket would expire before the next attempt', async () => {
    const failures: boolean[] = []
    let dials = 0
    const host: MigrationHost = {
      dial: async () => {
        dials++
        throw new ConnectError('timeout', 'fake timeout')
      },
      switchTo: () => undefined,
      failed: (_e, retrying) => failures.push(retrying),
    }
    const now = Date.now()
    // Expires within a second: no second attempt fits before it.
    const ticket = jwt({ exp: Math.floor(now / 1000) + 1 })
    const m = new Migration({ kind: 'migrate', url: NEW_URL, ticket, worldId: 'w' }, SELF, host, {
      backoff: { ...defaultBackoff, initialMs: 400, factor: 2, jitter: 0, maxAttempts: 10 }, wallNow: () => now,
    }).start()
    await eventually('given up', () => m.phase === 'failed')
    expect(dials).toBe(1)
    expect(failures).toEqual([false])
  })

  it('takes only the expected entity, and nothing once cancelled', () => {
    const switched: number[] = []
    let joined: ((session: Session, msg: Parameters<MigrationHost['switchTo']>[1]) => unknown) | undefined
    const host: MigrationHost = {
      dial: (_g, _s, j) => {
        joined = j
        return new Promise(() => undefined)
      },
      switchTo: (_s, msg) => switched.push(msg.entityId),
      failed: () => undefined,
    }
    const msg = (entityId: number) => ({ kind: 'join-accepted' as const, entityId, worldId: 'w', partition: 'p2', tick: 1, tickRate: 20 })
    const session = {} as Session
    const m = new Migration({ kind: 'migrate', url: NEW_URL, ticket: 't', worldId: 'w' }, SELF, host, { backoff: defaultBackoff }).start()
    expect(joined?.(session, msg(SELF + 1))).toBeDefined()
    expect(joined?.(session, msg(SELF))).toBeUndefined()
    expect(switched).toEqual([SELF])
    expect(m.phase).toBe('switched')
    m.cancel()
    expect(m.phase).toBe('switched')
    const n = new Migration({ kind: 'migrate', url: NEW_URL, ticket: 't', worldId: 'w' }, SELF, host, { backoff: defaultBackoff }).start()
    n.cancel()
    expect(joined?.(session, msg(SELF))).toBeDefined()
    expect(switched).toEqual([SELF])
  })
})

function prepare(conn: FakeConnection, ticket = 'standby', url = NEW_URL): void {
  conn.say({ kind: 'prepare', url, ticket, worldId: 'w' })
}

describe('TesseraClient standby connections', () => {
  it('a client that opens none says so to every worker it joins (no-standby); one that does says nothing', async () => {
    const { client, old, conn } = await joinedClient({ standby: false })
    expect(old.controlsFromClient()).toEqual([{ kind: 'no-standby' }])
    migrate(old)
    const next = (await conn(1)).conn
    next.join(SELF, 120)
    await eventually('switched', () => client.stats().migrations === 1)
    expect(next.controlsFromClient()).toEqual([{ kind: 'no-standby' }])
    const usual = await joinedClient()
    expect(usual.old.controlsFromClient()).toEqual([])
  })

  it('opens a standby connection on prepare and switches on its join-accepted, with no dial at the handoff', async () => {
    const { client, old, conn, dialled, migrated, log } = await joinedClient({ joinTimeoutMs: 100 })
    let walking = true
    client.on('tick', () => {
      if (walking) client.sendInput({ moveX: 1, moveY: 0 })
    })
    old.snapshot(101, [wire(SELF, 1, 1), wire(2, 5, 5)])
    prepare(old)
    const standby = (await conn(1)).conn
    expect(standby.ticket).toBe('standby')
    expect(client.stats()).toMatchObject({ standbyOpened: 1, migrations: 0 })
    // Held open, silent, for longer than the join timeout (100 ms) allows a normal connection.
    const openedAt = performance.now()
    await eventually('inputs on the old connection', () => old.inputs().length >= 4 && performance.now() - openedAt > 250)
    expect(standby.open).toBe(true)
    expect(standby.sent).toEqual([])
    walking = false
    const oldPackets = old.inputs().length
    const acked = carried(old).at(-2) ?? 0
    old.snapshot(102, [wire(SELF, 2, 1), wire(2, 5, 5)], acked)
    log.length = 0
    // The worker there takes the entity in and the standby connection with it.
    standby.join(SELF, 7000)
    expect(migrated).toEqual([{ from: OLD_URL, to: NEW_URL, entityId: SELF, worldId: 'r1', partition: null }])
    expect(client.stats()).toMatchObject({ migrations: 1, standbySwitches: 1 })
    standby.snapshot(7001, [wire(SELF, 3, 1), wire(2, 5, 5)], acked)
    expect(old.open).toBe(false)
    expect(log).toEqual([`~${SELF}`])
    expect(dialled).toHaveLength(2)
    // Inputs continue there: what the old one left unacknowledged first, no gap.
    walking = true
    await eventually('inputs on the standby connection', () => standby.inputs().length >= 2)
    walking = false
    expect(old.inputs().length).toBe(oldPackets)
    const seqs = [...new Set([...carried(old), ...carried(standby)])].sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => k + 1))
    expect(Math.min(...carried(standby))).toBe(acked + 1)
    client.close()
    expect(standby.open).toBe(false)
  })

  it('closes the standby on unprepare, keeps it on a repeated prepare, and replaces it on a prepare for elsewhere', async () => {
    const { client, old, conn, dialled } = await joinedClient()
    // Workers are told apart by address and id together: wB and wC share an address (one process).
    const forB = jwt({ wrk: 'wB' })
    prepare(old, forB)
    const first = (await conn(1)).conn
    prepare(old, jwt({ wrk: 'wB', jti: 'refreshed' }))
    await new Promise((r) => setTimeout(r, 20))
    expect(dialled).toHaveLength(2)
    expect(first.open).toBe(true)
    const forC = jwt({ wrk: 'wC' })
    prepare(old, forC)
    const second = await conn(2)
    expect(first.open).toBe(false)
    expect(second.conn.ticket).toBe(forC)
    // An unprepare for another worker (at the same address, or elsewhere) changes nothing; for this one, the standby goes.
    old.say({ kind: 'unprepare', url: NEW_URL, workerId: 'wB', worldId: 'w' })
    old.say({ kind: 'unprepare', url: OLD_URL, workerId: 'wC', worldId: 'w' })
    expect(second.conn.open).toBe(true)
    old.say({ kind: 'unprepare', url: NEW_URL, workerId: 'wC', worldId: 'w' })
    expect(second.conn.open).toBe(false)
    // A late join-accepted on a dropped standby switches nothing.
    second.conn.join(SELF, 5)
    expect(client.stats()).toMatchObject({ migrations: 0, standbyOpened: 2 })
    expect(client.state).toBe('connected')
    client.close()
  })

  it('follows a prepare or a migrate for another worker at its session\'s address, and ignores one for its own worker', async () => {
    const { client, old, conn, dialled, migrated } = await joinedClient()
    // The session's ticket names no worker: a ticket for wA2 at its address is another worker there.
    prepare(old, jwt({ wrk: 'wA2' }), OLD_URL)
    const standby = (await conn(1)).conn
    standby.join(SELF, 10)
    expect(migrated).toHaveLength(1)
    // Now on wA2 at OLD_URL: a prepare or a migrate for wA2 there is for where it is already.
    prepare(standby, jwt({ wrk: 'wA2', jti: 'again' }), OLD_URL)
    migrate(standby, jwt({ wrk: 'wA2', jti: 'move' }), OLD_URL)
    await new Promise((r) => setTimeout(r, 20))
    expect(dialled).toHaveLength(2)
    client.close()
  })

  it('a migrate to where a standby is open waits for it rather than dialling again; if it ends unjoined, dials the order', async () => {
    const { client, old, conn, dialled, migrated } = await joinedClient()
    prepare(old)
    const standby = (await conn(1)).conn
    migrate(old, 'move')
    await new Promise((r) => setTimeout(r, 20))
    expect(dialled).toHaveLength(2)
    standby.drop('network')
    const dialledOrder = (await conn(2)).conn
    expect(dialledOrder.ticket).toBe('move')
    dialledOrder.join(SELF, 9)
    expect(migrated).toHaveLength(1)
    expect(client.stats()).toMatchObject({ migrations: 1, standbySwitches: 0 })
    client.close()
  })

  it('a stay voids a move deferred to the standby: nothing is dialled when the wait runs out, the standby stays', async () => {
    const { client, old, conn, dialled } = await joinedClient({ joinTimeoutMs: 50 })
    prepare(old)
    const standby = (await conn(1)).conn
    migrate(old, 'move')
    // The entity came back to the old worker before the client could move.
    old.say({ kind: 'stay', worldId: 'w' })
    await new Promise((r) => setTimeout(r, 150))
    expect(dialled).toHaveLength(2)
    expect(standby.open).toBe(true)
    // Without the stay, the wait running out dials the order.
    migrate(old, 'move-again')
    const dialledOrder = (await conn(2)).conn
    expect(dialledOrder.ticket).toBe('move-again')
    expect(standby.open).toBe(false)
    client.close()
  })

  it('a migrate elsewhere drops the standby; a standby joining as another entity is refused', async () => {
    const { client, old, conn } = await joinedClient()
    prepare(old)
    const standby = (await conn(1)).conn
    migrate(old, 'to-c', 'http://127.0.0.1:11')
    const moving = await conn(2)
    expect(standby.open).toBe(false)
    expect(moving.port).toBe(11)
    moving.conn.join(SELF, 3)
    prepare(moving.conn, 'back', OLD_URL)
    const back = (await conn(3)).conn
    back.join(SELF + 7, 4)
    expect(back.open).toBe(false)
    expect(client.self).toBe(SELF)
    expect(client.stats()).toMatchObject({ migrations: 1, standbySwitches: 0 })
    client.close()
  })

  it('reconnects after a standby switch with the ticket the new worker sent, while it is valid', async () => {
    const { client, old, conn } = await joinedClient()
    prepare(old)
    const standby = (await conn(1)).conn
    standby.join(SELF, 50)
    standby.snapshot(51, [wire(SELF, 1, 1)])
    const ticket = jwt({ exp: Math.floor(Date.now() / 1000) + 30, n: 'here' })
    standby.say({ kind: 'ticket', ticket, worldId: 'w' })
    standby.drop('network')
    await eventually('reconnecting', () => client.state === 'reconnecting')
    const again = await conn(2)
    expect(again.conn.ticket).toBe(ticket)
    expect(again.port).toBe(10)
    again.conn.join(12, 80)
    await eventually('connected again', () => client.state === 'connected')
    client.close()
  })

  it('a connection lost drops the standby; standby: false ignores prepare', async () => {
    const { client, old, conn } = await joinedClient()
    prepare(old)
    const standby = (await conn(1)).conn
    old.drop('network')
    expect(standby.open).toBe(false)
    await eventually('reconnecting', () => client.state === 'reconnecting')
    client.close()

    const off = await joinedClient({ standby: false })
    prepare(off.old)
    await new Promise((r) => setTimeout(r, 30))
    expect(off.dialled).toHaveLength(1)
    off.client.close()
  })
})
