/**
 * The worker's player link sends the simulation's snapshot datagram as encoded: the encoder writes
 * the SNAPSHOT opcode itself, and a client's receiver decodes what goes out.
 */
import { describe, expect, it } from 'vitest'
import { SnapshotReceiver } from '../../core/wire/snapshot-receiver.ts'
import { Protocol } from '../../core/wire/protocol.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { PlayerLink } from '../../worker/player-link.ts'
import { Simulation } from '../../worker/simulation.ts'
import { playerConnection } from '../helpers/player-connection.ts'

describe('player link snapshots', () => {
  it('sends the encoded snapshot unchanged, and it decodes on the client', () => {
    const sim = new Simulation({ game: createDemoGame(), seed: 1, bounds: { minX: 0, minY: 0, maxX: 100, maxY: 100 } })
    sim.addPlayer('p', { x: 10, y: 10 })
    sim.spawnNpc({ x: 12, y: 10 })
    const { conn, sent } = playerConnection('p')
    const link = new PlayerLink(conn, { input: () => undefined, ack: () => undefined, malformed: () => undefined, control: () => undefined }, () => sim.tick)
    const rx = new SnapshotReceiver()
    for (let i = 0; i < 3; i++) {
      sim.step()
      const bytes = sim.buildSnapshot('p') as Uint8Array
      expect(link.sendSnapshot(bytes)).toBe(true)
      expect(sent.at(-1)).toEqual(bytes)
      expect(sent.at(-1)?.[0]).toBe(Protocol.serverOp.SNAPSHOT)
      const result = rx.receive(sent.at(-1) as Uint8Array)
      expect(result).toMatchObject({ kind: 'applied', tick: i })
      sim.acknowledge('p', i)
    }
    expect(rx.state.count).toBe(2)
  })
})
