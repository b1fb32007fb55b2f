/**
 * The player library's reconnection: the pure policy (backoff, which ends are worth retrying,
 * ticket expiry) and the client's state machine over fake connections — drop, reconnect, a
 * consistent entity set across sessions, giving up when it should.
 */
import { describe, expect, it } from 'vitest'
import { TesseraClient } from '../../client/client.ts'
import type { ClientState, TesseraClientError } from '../../client/client.ts'
import type { ConnectOptions } from '../../client/connection.ts'
import { ConnectError } from '../../client/connection.ts'
import { backoffDelay, decideAfterEnd, defaultBackoff, ticketExpiresAt } from '../../client/reconnect.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import { FakeConnection, wire } from '../helpers/fake-connection.ts'
import { eventually } from '../helpers/eventually.ts'

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${enc({ alg: 'EdDSA' })}.${enc(claims)}.sig`
}

describe('reconnection policy', () => {
  it('backs off exponentially up to the cap, with bounded jitter', () => {
    const o = { ...defaultBackoff, jitter: 0 }
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, o))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000])
    const j = { ...defaultBackoff, jitter: 0.2 }
    expect(backoffDelay(1, j, () => 0)).toBe(200)
    expect(backoffDelay(1, j, () => 0.999999)).toBe(300)
  })

  it('reconnects after unexplained drops and transient errors, not after goodbyes, kicks or bad tickets', () => {
    const end = (over: Partial<Parameters<typeof decideAfterEnd>[0]>) => ({ reason: 'network' as const, code: undefined, explanation: undefined, ...over })
    expect(decideAfterEnd(end({}), false).action).toBe('reconnect')
    expect(decideAfterEnd(end({ reason: 'timeout' }), false).action).toBe('reconnect')
    expect(decideAfterEnd(end({ reason: 'server-closed', code: 1000 }), false).action).toBe('reconnect')
    expect(decideAfterEnd(end({ reason: 'closed' }), true).action).toBe('close')
    expect(decideAfterEnd(end({ reason: 'server-closed', code: Protocol.closeCode.replaced }), true).action).toBe('close')
    expect(decideAfterEnd(end({ explanation: { kind: 'bye', code: 'normal' } }), true).action).toBe('close')
    expect(decideAfterEnd(end({ explanation: { kind: 'kick', code: 'going_away', reason: 'moved' } }), false).action).toBe('reconnect')
    expect(decideAfterEnd(end({ explanation: { kind: 'kick', code: 'replaced', reason: 'x' } }), true).action).toBe('close')
    expect(decideAfterEnd(end({ explanation: { kind: 'error', code: 'shutting_down', message: '' } }), false).action).toBe('reconnect')
    expect(decideAfterEnd(end({ explanation: { kind: 'error', code: 'room_full', message: '' } }), true).action).toBe('close')
    // Ownership moved: a fresh grant from the gateway may cure it, the same ticket cannot.
    expect(decideAfterEnd(end({ explanation: { kind: 'error', code: 'not_owner', message: '' } }), true).action).toBe('reconnect')
    expect(decideAfterEnd(end({ explanation: { kind: 'error', code: 'not_owner', message: '' } }), false).action).toBe('close')
  })

  it('reads a ticket expiry without verifying it', () => {
    expect(ticketExpiresAt(jwt({ exp: 1_700_000_000 }))).toBe(1_700_000_000_000)
    expect(ticketExpiresAt('garbage')).toBeUndefined()
    expect(ticketExpiresAt('a.%%%.c')).toBeUndefined()
  })
})

/** A client whose connections are fakes, handed out in order. */
function harness(options: { failFirst?: number; ticket?: string } = {}) {
  const conns: FakeConnection[] = []
  let failures = options.failFirst ?? 0
  const connect = async (o: ConnectOptions): Promise<FakeConnection> => {
    if (failures > 0) {
      failures--
      throw new ConnectError('timeout', 'fake timeout')
    }
    const c = new FakeConnection(o.ticket, conns.length)
    conns.push(c)
    return c
  }
  const client = new TesseraClient({ connect, reconnect: { initialMs: 5, maxMs: 20, maxAttempts: 4 }, random: () => 0.5 })
  const states: ClientState[] = []
  const errors: string[] = []
  client.on('stateChange', ({ state }) => states.push(state))
  client.on('error', (e: TesseraClientError) => errors.push(e.code))
  const ticket = options.ticket ?? jwt({ exp: Math.floor(Date.now() / 1000) + 60 })
  return { client, conns, states, errors, ticket }
}

describe('TesseraClient reconnection', () => {
  it('reconnects after a drop and keeps a consistent entity set', async () => {
    const { client, conns, states, ticket } = harness()
    const log: string[] = []
    client.on('entityAdded', (e) => log.push(`+${e.id}`))
    client.on('entityUpdated', (e) => log.push(`~${e.id}`))
    client.on('entityRemoved', (e) => log.push(`-${e.id}`))
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket })
    await eventually('first connection', () => conns[0]?.listening)
    const first = conns[0] as FakeConnection
    first.join(1)
    await joining
    first.snapshot(11, [wire(1, 0, 0), wire(2, 5, 5), wire(3, 6, 6)])
    expect(log).toEqual(['+1', '+2', '+3'])

    first.drop('network')
    expect(client.state).toBe('reconnecting')
    await eventually('second connection', () => conns[1]?.listening)
    const second = conns[1] as FakeConnection
    expect(second.ticket).toBe(ticket)
    second.join(9, 50)
    await eventually('connected again', () => client.state === 'connected')
    expect(client.self).toBe(9)
    // The new session: entity 1 (our old self) is gone, 2 is unchanged, 3 moved, 9 is us now.
    second.snapshot(51, [wire(2, 5, 5), wire(3, 7, 6), wire(9, 0, 0)])
    expect(log.slice(3)).toEqual(['-1', '+9', '~3'])
    expect([...client.entities()].map((e) => e.id).sort()).toEqual([2, 3, 9])
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected'])
    expect(client.stats()).toMatchObject({ reconnects: 1, snapshots: 2 })
    client.close()
  })

  it('retries a failed first connection, then joins', async () => {
    const { client, conns, ticket } = harness({ failFirst: 2 })
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket })
    await eventually('a connection after two failures', () => conns[0]?.listening)
    conns[0]?.join(4)
    await expect(joining).resolves.toMatchObject({ entityId: 4 })
    client.close()
  })

  it('gives up after its attempts and reports every entity removed', async () => {
    const { client, conns, states, errors, ticket } = harness()
    const removed: number[] = []
    client.on('entityRemoved', (e) => removed.push(e.id))
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket })
    await eventually('first connection', () => conns[0]?.listening)
    conns[0]?.join(1)
    await joining
    conns[0]?.snapshot(11, [wire(1, 0, 0), wire(2, 1, 1)])
    // Every later attempt opens a channel that then drops before join-accepted.
    const dropNext = setInterval(() => {
      for (const c of conns.slice(1)) if (c.open && c.listening) c.drop('network')
    }, 2)
    conns[0]?.drop('timeout')
    await eventually('closed', () => client.state === 'closed')
    clearInterval(dropNext)
    expect(conns.length).toBe(5)
    expect(states.at(-1)).toBe('closed')
    expect(errors.at(-1)).toBe('closed')
    expect(removed.sort()).toEqual([1, 2])
  })

  it('does not come back after being replaced, nor with an expired ticket', async () => {
    const replaced = harness()
    const joining = replaced.client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket: replaced.ticket })
    await eventually('connection', () => replaced.conns[0]?.listening)
    replaced.conns[0]?.join(1)
    await joining
    replaced.conns[0]?.say({ kind: 'kick', code: 'replaced', reason: 'connected again elsewhere' })
    replaced.conns[0]?.drop('server-closed', Protocol.closeCode.replaced)
    expect(replaced.client.state).toBe('closed')
    expect(replaced.conns.length).toBe(1)

    const expired = harness({ ticket: jwt({ exp: Math.floor(Date.now() / 1000) - 1 }) })
    const j2 = expired.client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket: expired.ticket })
    await eventually('connection', () => expired.conns[0]?.listening)
    expired.conns[0]?.join(1)
    await j2
    expired.conns[0]?.drop('network')
    await eventually('closed', () => expired.client.state === 'closed')
    expect(expired.conns.length).toBe(1)
    expect(expired.errors).toContain('expired_ticket')
  })

  it('surfaces migrate orders as control events without acting on them', async () => {
    const { client, conns, ticket } = harness()
    const kinds: string[] = []
    client.on('control', (m) => kinds.push(m.kind))
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket })
    await eventually('connection', () => conns[0]?.listening)
    conns[0]?.join(1)
    await joining
    conns[0]?.say({ kind: 'migrate', url: 'http://127.0.0.1:10', ticket: 'next', worldId: 'w' })
    expect(kinds).toEqual(['join-accepted', 'migrate'])
    expect(client.state).toBe('connected')
    client.close()
  })
})
