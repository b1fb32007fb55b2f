/**
 * A player connected to wA walks into wB's partition: its entity is handed to wB and wA relays the
 * player (snapshots built around the entity's ghost, which wB streams to wA every tick). Between
 * wA taking in wB's acceptance and wB's first ghost of the entity arriving, wA has no copy of the
 * player's own entity; it used to send that player no snapshot for that tick (the ~100 ms gaps
 * just before a bot's switch in the seamless-world e2e). Now it shows the entity as it left until
 * the ghost is there: a snapshot every tick.
 */
import { describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import { playerConnection } from '../helpers/player-connection.ts'
import { twoWorkers } from '../helpers/two-borders.ts'

describe('a relayed player whose entity was just handed on', () => {
  it('gets a snapshot every tick through the handoff, its own entity in each', () => {
    const w = twoWorkers(createDemoGame({ walkerSpeed: [0, 0] }))
    const alice = playerConnection('alice')
    w.p1.addPlayer(alice.conn)
    const id = w.p1.sim.playerEntity('alice') as number
    w.step()
    // As the game would move it: well past the hysteresis band, inside p2.
    const entity = w.p1.sim.entity(id) as { x: number; y: number } | undefined
    if (!entity) throw new Error('no entity')
    entity.x = 110
    entity.y = 50
    let relayedFrom: number | undefined
    for (let t = 0; t < 8; t++) {
      const before = alice.snapshots().length
      w.step()
      expect(alice.snapshots().length, `snapshots after step ${t}`).toBe(before + 1)
      if (relayedFrom === undefined && w.p2.sim.entity(id)) relayedFrom = t
    }
    // The handoff did happen early on, and alice is relayed by wA since.
    expect(relayedFrom).toBeLessThanOrEqual(2)
    expect(w.p1.sim.isRelay('alice')).toBe(true)
    expect(w.copies(id)).toEqual(['p2'])

    // Its client connects to wB directly: the last tick's snapshot comes at once, before wB's next
    // tick (the relay's snapshots stop as soon as the player is connected to its owner).
    const direct = playerConnection('alice', { workerId: 'wB', partitionId: 'p2' })
    w.p2.addPlayer(direct.conn)
    expect(direct.snapshots()).toHaveLength(1)
    w.step()
    expect(direct.snapshots()).toHaveLength(2)
  })

  it('a new player gets its first snapshot at the next step, with its entity in it', () => {
    const w = twoWorkers(createDemoGame({ walkerSpeed: [0, 0] }))
    w.step()
    const bob = playerConnection('bob')
    w.p1.addPlayer(bob.conn)
    expect(bob.snapshots()).toHaveLength(0)
    w.step()
    expect(bob.snapshots()).toHaveLength(1)
  })
})
