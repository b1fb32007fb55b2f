/**
 * A worker's `GET /debug/entities`: per partition the entities it simulates (with what the game
 * tells operators about them: the demo game's record of the inputs it applied), and the entities
 * it has out on offer.
 */
import { fastify } from 'fastify'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { describeEntities, registerEntityDebug } from '../../worker/debug-entities.ts'
import type { DebugEntities } from '../../worker/debug-entities.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'

const input = (seq: number) => ({ seq, tick: 0, moveX: 127, moveY: 0, buttons: 0 })

describe('GET /debug/entities', () => {
  it('lists each partition’s entities with the game’s facts, and the offers out', async () => {
    const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
    const runner = new PartitionRunner({
      worldId: 'w', partitionId: 'p3', epoch: 2, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
      game: createDemoGame(), seed: 1, tickRate: 20, interestRadius: 100, npcs: 2, logger: silentLogger(),
    })
    const player = runner.sim.addPlayer('alice', { x: 50, y: 50 })
    // Inputs 1 and 2, then a late copy of 2 with 3: the game applies 1, 2 and 3, once each, in order.
    runner.sim.receiveInput('alice', { ackTick: null, inputs: [input(1), input(2)] })
    runner.tick()
    runner.sim.receiveInput('alice', { ackTick: null, inputs: [input(2), input(3)] })
    runner.tick()

    const app = fastify()
    registerEntityDebug(app, () => describeEntities('wa', 7, [runner as PartitionRunner<unknown, unknown>], [{ worldId: 'w', entityId: 9, handoffId: 'wa.1' }]))
    const res = await app.inject({ url: '/debug/entities' })
    await app.close()
    expect(res.statusCode).toBe(200)
    const body = res.json<DebugEntities>()
    expect(body).toMatchObject({ workerId: 'wa', tick: 7, offers: [{ worldId: 'w', entityId: 9, handoffId: 'wa.1' }] })
    expect(body.partitions).toHaveLength(1)
    const [p] = body.partitions
    expect(p).toMatchObject({ worldId: 'w', partitionId: 'p3', epoch: 2, retiring: false, connections: 0 })
    expect(p?.entities.map((e) => [e.id, e.control, e.playerId])).toEqual([[1, 'npc', null], [2, 'npc', null], [player, 'player', 'alice']])
    expect(p?.entities.find((e) => e.id === player)?.game).toEqual({ inputsApplied: 3, lastInputSeq: 3, inputsOutOfSequence: 0 })
    // Walkers have nothing to say.
    expect(p?.entities[0]?.game).toBeUndefined()
  })
})
