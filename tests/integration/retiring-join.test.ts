/**
 * A partition moving to another worker keeps running on the old one while it hands its entities
 * over and relays players whose clients have not moved yet; a player arriving there meanwhile
 * with a ticket for it is refused (`not_owner`, which sends the client back to the gateway), not
 * given a new entity that would only follow the others out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TesseraClientError } from '../../client/index.ts'
import { eventually } from '../helpers/eventually.ts'
import { walkerGame } from './helpers/walker-game.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

describe('a retiring partition', () => {
  const world = new WorkerWorld('/retiring-join/', {
    game: () => walkerGame({ applied: new Map(), spawnAt: () => ({ x: 50, y: 50 }) }),
    worker: { reportIntervalMs: 200, retireGraceMs: 20_000 },
  })

  beforeAll(async () => {
    await world.start()
    await world.createWorld()
  })

  afterAll(async () => {
    await world.stop()
  })

  const ticketFor = (playerId: string) => world.ticket(playerId)

  it('refuses a new player while it hands over, and spawns nothing for it', async () => {
    const { wA, wB } = world
    // Alice's client never moves: wA relays her, so p1 keeps running there after the move.
    const alice = world.client({ migrate: false, reconnect: { maxAttempts: 0 } })
    const self = (await alice.joinWithTicket({ url: wA.addresses.clientUrl, ticket: await ticketFor('alice') })).entityId
    await world.moveP1ToB()
    await eventually('alice handed to wB, p1 still running on wA', () =>
      wB.runner('w', 'p1')?.sim.entity(self) !== undefined && wA.runner('w', 'p1')?.retiring === true)

    const bob = world.client({ reconnect: { maxAttempts: 0 } })
    const refused = await bob.joinWithTicket({ url: wA.addresses.clientUrl, ticket: await ticketFor('bob') }).then(() => undefined, (err: unknown) => err)
    expect(refused).toBeInstanceOf(TesseraClientError)
    expect((refused as TesseraClientError).code).toBe('not_owner')
    expect(wA.runner('w', 'p1')?.sim.playerEntity('bob')).toBeUndefined()
    expect(wA.runner('w', 'p1')?.sim.entityCount).toBe(0)
    // Alice plays on, relayed.
    expect(alice.state).toBe('connected')
  })
})
