/**
 * Input sequencing in the player library: one sequenced input per client tick, repeated until the
 * server acknowledges it, a bare ACK when idle, control frames acknowledged at once.
 */
import { describe, expect, it } from 'vitest'
import { Session } from '../../client/session.ts'
import type { SessionEnd } from '../../client/session.ts'
import { TesseraClient } from '../../client/client.ts'
import { FakeConnection, wire } from '../helpers/fake-connection.ts'
import { eventually } from '../helpers/eventually.ts'

function session(conn: FakeConnection, redundancy = 4) {
  const ends: SessionEnd[] = []
  const s = new Session(
    conn,
    { joined: () => undefined, control: () => undefined, snapshot: () => undefined, ended: (e) => ends.push(e), protocolError: () => undefined },
    () => 0,
    { inputRedundancy: redundancy, pingIntervalMs: 1e9 },
  )
  return { s, ends }
}

describe('client session inputs', () => {
  it('sends nothing before join-accepted, then numbers inputs from 1 and repeats the unacknowledged', () => {
    const conn = new FakeConnection('t')
    const { s } = session(conn, 3)
    s.tick({ moveX: 1, moveY: 0 })
    expect(conn.inputs()).toEqual([])
    conn.join(1, 100)
    conn.sent.length = 0
    for (let i = 0; i < 5; i++) s.tick({ moveX: 0.5, moveY: -1, buttons: i })
    const packets = conn.inputs()
    expect(packets.map((p) => p.inputs.map((i) => i.seq))).toEqual([[1], [2, 1], [3, 2, 1], [4, 3, 2], [5, 4, 3]])
    expect(packets[4]?.inputs[0]).toMatchObject({ moveX: 64, moveY: -127, buttons: 4 })
    expect(packets[0]?.ackTick).toBeNull()
    expect(s.counters).toMatchObject({ inputsSent: 5, inputsAcked: 0, inputsUnconfirmed: 2 })

    // The server applied up to 4: only 5 is repeated, and the packet acknowledges tick 101.
    conn.snapshot(101, [wire(1, 0, 0)], 4)
    conn.sent.length = 0
    s.tick(undefined)
    expect(conn.inputs()).toEqual([expect.objectContaining({ ackTick: 101, inputs: [expect.objectContaining({ seq: 5 })] })])
    conn.snapshot(102, [wire(1, 0, 0)], 5)
    conn.sent.length = 0
    s.tick(undefined)
    s.tick(undefined)
    // Idle: one bare ACK for the new tick, nothing for the unchanged one.
    expect(conn.sentTypes()).toEqual(['ack'])
    expect(s.counters).toMatchObject({ inputsSent: 5, inputsAcked: 5, ackRegressions: 0 })
  })

  it('acknowledges control messages so the server stops resending', () => {
    const conn = new FakeConnection('t')
    session(conn)
    conn.join(1)
    expect(conn.sentTypes()).toContain('control')
    const ackFrame = conn.sent.find((b) => b[0] === 0x03)
    expect(conn.control.receive((ackFrame as Uint8Array).subarray(1))).toEqual([])
    expect(conn.control.idle).toBe(true)
  })

  it('counts an acknowledged input sequence that goes backwards', () => {
    const conn = new FakeConnection('t')
    const { s } = session(conn)
    conn.join(1)
    for (let i = 0; i < 3; i++) s.tick({ moveX: 0, moveY: 0 })
    conn.snapshot(11, [], 3)
    conn.snapshot(12, [], 2)
    expect(s.counters.ackRegressions).toBe(1)
  })

  it('merges inputs given within one client tick: latest axes, all buttons', async () => {
    const conn = new FakeConnection('t')
    const client = new TesseraClient({ connect: async () => conn, reconnect: false })
    const joining = client.joinWithTicket({ url: 'http://127.0.0.1:9', ticket: 't' })
    await eventually('the session listens', () => conn.listening)
    conn.join(1)
    await joining
    conn.sent.length = 0
    let once = true
    client.on('tick', () => {
      if (!once) return
      once = false
      client.sendInput({ moveX: 1, moveY: 0, buttons: 1 })
      client.sendInput({ moveX: 0, moveY: 1, buttons: 4 })
    })
    await eventually('an input went out', () => conn.inputs().length > 0)
    expect(conn.inputs()[0]?.inputs).toEqual([expect.objectContaining({ seq: 1, moveX: 0, moveY: 127, buttons: 5 })])
    client.close()
  })
})
