/**
 * `GET /debug/entities` on a worker's ops server: which entities this worker holds right now, per
 * partition, and which are out on offer to another partition. Read-only, for operators and for
 * tests that check across processes that every entity has exactly one owner.
 *
 * The answer is built between two ticks (the event loop runs ticks and requests one at a time), so
 * one worker's answer is one consistent instant of that worker.
 */
import type { FastifyInstance } from 'fastify'
import type { PartitionRunner } from './partition-runner.ts'

export interface DebugEntity {
  id: number
  control: 'player' | 'npc'
  playerId: string | null
  x: number
  y: number
  /** What the game tells operators about it (`Game.inspect`); absent when it says nothing. */
  game?: Readonly<Record<string, number | string | boolean>>
}

export interface DebugPartition {
  worldId: string
  partitionId: string
  epoch: number
  /** The map gave it to another worker; it runs on only to hand its entities over. */
  retiring: boolean
  /** Players whose connections this partition holds (its own, and those it relays). */
  connections: number
  /** Entities it simulates, in id order. */
  entities: DebugEntity[]
}

export interface DebugEntities {
  workerId: string
  /** This worker's tick number (each worker has its own clock). */
  tick: number
  partitions: DebugPartition[]
  /** Entities taken out of a simulation and offered to another partition, still held here. */
  offers: { worldId: string; entityId: number; handoffId: string }[]
}

type AnyRunner = PartitionRunner<unknown, unknown>

/** The view of one worker's entities at this instant. */
export function describeEntities(
  workerId: string,
  tick: number,
  runners: Iterable<AnyRunner>,
  offers: DebugEntities['offers'],
): DebugEntities {
  const partitions: DebugPartition[] = []
  for (const r of runners) {
    const inspect = r.options.game.inspect?.bind(r.options.game)
    const entities: DebugEntity[] = []
    for (const e of r.sim.allEntities()) {
      const d: DebugEntity = { id: e.id, control: e.control, playerId: e.playerId, x: e.x, y: e.y }
      const game = inspect?.(e)
      if (game !== undefined && Object.keys(game).length > 0) d.game = game
      entities.push(d)
    }
    entities.sort((a, b) => a.id - b.id)
    partitions.push({
      worldId: r.options.worldId, partitionId: r.options.partitionId, epoch: r.options.epoch,
      retiring: r.retiring, connections: r.players, entities,
    })
  }
  partitions.sort((a, b) => (a.worldId === b.worldId ? (a.partitionId < b.partitionId ? -1 : 1) : a.worldId < b.worldId ? -1 : 1))
  return { workerId, tick, partitions, offers: [...offers].sort((a, b) => a.entityId - b.entityId) }
}

/** Adds `GET /debug/entities` to the worker's ops server. */
export function registerEntityDebug(app: FastifyInstance, view: () => DebugEntities): void {
  app.get(
    '/debug/entities',
    { schema: { tags: ['ops'], summary: "The entities this worker simulates, per partition, and those it has out on offer" } },
    async (_req, reply) => reply.header('cache-control', 'no-store').send(view()),
  )
}
