/**
 * A game whose `spawn` throws for a joining player: that player is refused with `internal` (a
 * clear error for its client) and the partition, its worker and its other players go on. Before,
 * the exception escaped into the transport's connection handler.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TesseraClientError } from '../../client/index.ts'
import type { Game } from '../../worker/game/types.ts'
import type { Walk, WalkerMessage } from './helpers/walker-game.ts'
import { walkerGame } from './helpers/walker-game.ts'
import { WorkerWorld } from './helpers/worker-world.ts'

function failingFor(playerId: string): Game<Walk, WalkerMessage> {
  const game = walkerGame({ applied: new Map(), spawnAt: () => ({ x: 50, y: 50 }) })
  return {
    ...game,
    spawn: (ctx, spec) => {
      if (spec.type === 'player' && spec.playerId === playerId) throw new Error('no spawn point for this player')
      return game.spawn(ctx, spec)
    },
  }
}

describe('a game that cannot spawn a player', () => {
  const world = new WorkerWorld('/spawn-error/', { game: () => failingFor('mallory') })

  beforeAll(async () => {
    await world.start()
    await world.createWorld()
  })

  afterAll(async () => {
    await world.stop()
  })

  const join = async (playerId: string) => {
    const client = world.client({ reconnect: { maxAttempts: 0 } })
    const ticket = await world.ticket(playerId)
    return { client, joined: await client.joinWithTicket({ url: world.wA.addresses.clientUrl, ticket }).then((j) => j, (err: unknown) => err) }
  }

  it('refuses that player with internal; the others play on', async () => {
    const alice = await join('alice')
    expect(alice.joined).not.toBeInstanceOf(Error)
    const mallory = await join('mallory')
    expect(mallory.joined).toBeInstanceOf(TesseraClientError)
    expect((mallory.joined as TesseraClientError).code).toBe('internal')
    const p1 = world.wA.runner('w', 'p1')
    expect(p1?.sim.playerEntity('mallory')).toBeUndefined()
    expect(p1?.sim.playerEntity('alice')).toBeDefined()
    const bob = await join('bob')
    expect(bob.joined).not.toBeInstanceOf(Error)
    expect(alice.client.state).toBe('connected')
  })
})
