/**
 * Game code that throws costs its partition the rest of that tick's game logic, not the worker:
 * the runner's tick returns, the step still ends (despawns asked for, the tick number, the
 * interest index), and the next tick runs as usual. Before, the error left the worker's tick loop
 * and stopped every partition of the worker while it stayed registered.
 *
 * A `wire` that throws costs that entity's snapshot fields for that tick (zero), in its own
 * partition's snapshots and as a ghost; before, it broke the tick's world view (the tick number
 * stuck, no snapshots) or the whole ghost batch. A `leave` that throws costs nothing: the player is
 * removed all the same; before, it stayed half-removed (its entity and session left behind).
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { quantizePosition } from '../../core/wire/entity-table.ts'
import { SnapshotReceiver } from '../../core/wire/snapshot-receiver.ts'
import { createDemoGame, DemoKind } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { EntityId, Game } from '../../worker/game/types.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'
import { playerConnection } from '../helpers/player-connection.ts'
import { BOUNDS } from '../helpers/test-maps.ts'
import { borderOf } from '../helpers/two-borders.ts'

const rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }

/** The demo game (walkers standing still), with `wire` throwing for `bad` after writing junk. */
function wireThrowsFor(bad: (id: EntityId) => boolean): Game<DemoState, DemoMessage> {
  const demo = createDemoGame({ walkerSpeed: [0, 0] })
  return {
    ...demo,
    wire(entity, out) {
      if (bad(entity.id)) {
        out.kind = 99
        out.hp = 7
        throw new Error('game bug')
      }
      demo.wire(entity, out)
    },
  }
}

function runnerOf(game: Game<DemoState, DemoMessage>, more: { npcs?: number; onPlayer?: (event: 'joined' | 'left', claims: TicketClaims) => void } = {}) {
  return new PartitionRunner<DemoState, DemoMessage>({
    worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
    game, seed: 1, tickRate: 20, interestRadius: 1000, npcs: more.npcs ?? 0, logger: silentLogger(),
    ...(more.onPlayer ? { onPlayer: more.onPlayer } : {}),
  })
}

const connection = (playerId: string) => playerConnection(playerId)

describe('a game that throws during a tick', () => {
  it('loses that tick’s remaining logic only; the partition goes on', () => {
    const demo = createDemoGame({ walkerSpeed: [0, 0] })
    const ticked: number[] = []
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      tick(ctx, dt) {
        if (ctx.tick === 3) {
          const [first] = [...ctx.entities()]
          if (first) ctx.despawn(first.id)
          throw new Error('game bug')
        }
        demo.tick(ctx, dt)
        ticked.push(ctx.tick)
      },
    }
    const runner = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
      game, seed: 1, tickRate: 20, interestRadius: 50, npcs: 3, logger: silentLogger(),
    })
    for (let i = 0; i < 6; i++) expect(() => runner.tick()).not.toThrow()
    expect(runner.gameErrors).toBe(1)
    expect(ticked).toEqual([0, 1, 2, 4, 5])
    expect(runner.sim.tick).toBe(5)
    // The despawn it asked for before throwing still happened.
    expect(runner.sim.entityCount).toBe(2)
  })

  it('starts a partition whose game fails to spawn one of its NPCs with those it could spawn', () => {
    const demo = createDemoGame()
    let spawned = 0
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      spawn(ctx, spec) {
        if (++spawned === 3) throw new Error('no room for another NPC')
        return demo.spawn(ctx, spec)
      },
    }
    const runner = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: rect, maxPlayers: undefined,
      game, seed: 1, tickRate: 20, interestRadius: 50, npcs: 5, logger: silentLogger(),
    })
    expect(runner.sim.entityCount).toBe(2)
    expect(runner.gameErrors).toBe(1)
    runner.tick()
    expect(runner.sim.tick).toBe(0)
  })

  it('refuses a player whose spawn throws, counts it, and goes on with the others', () => {
    const demo = createDemoGame()
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      spawn(ctx, spec) {
        if (spec.type === 'player' && spec.playerId === 'bob') throw new Error('no spawn point for bob')
        return demo.spawn(ctx, spec)
      },
    }
    const runner = runnerOf(game)
    const bob = connection('bob')
    const alice = connection('alice')
    runner.addPlayer(bob.conn)
    runner.addPlayer(alice.conn)
    expect(runner.gameErrors).toBe(1)
    expect(runner.hasPlayer('bob')).toBe(false)
    expect(runner.hasPlayer('alice')).toBe(true)
    runner.tick()
    expect(alice.snapshots()).toHaveLength(1)
  })
})

describe('a game whose wire throws for one entity', () => {
  it('costs that entity its fields only: the partition ticks, snapshots go out, the errors are counted', () => {
    let bad = -1
    const runner = runnerOf(wireThrowsFor((id) => id === bad), { npcs: 3 })
    const npcs = [...runner.sim.allEntities()].map((e) => e.id)
    bad = npcs[1] as number
    const alice = connection('alice')
    runner.addPlayer(alice.conn)
    for (let i = 0; i < 5; i++) expect(() => runner.tick()).not.toThrow()
    expect(runner.sim.tick).toBe(4)
    expect(runner.gameErrors).toBe(5)

    const rx = new SnapshotReceiver()
    expect(alice.snapshots()).toHaveLength(5)
    for (const bytes of alice.snapshots()) expect(rx.receive(bytes)).toMatchObject({ kind: 'applied' })
    const e = runner.sim.entity(bad)
    // Still shown, where it is, with zero fields (not the junk written before the throw).
    expect(rx.entity(bad)).toMatchObject({ x: quantizePosition(e?.x ?? NaN), y: quantizePosition(e?.y ?? NaN), kind: 0, flags: 0, hp: 0 })
    for (const id of [npcs[0], npcs[2]]) expect(rx.entity(id as number)).toMatchObject({ kind: DemoKind.walker, hp: 100 })
    expect(rx.entity(runner.sim.playerEntity('alice') as number)).toMatchObject({ kind: DemoKind.player, hp: 100 })
  })
})

/** `w` cut at x = 100 into p1 and p2, owned as given. */
function splitOwned(p1: string, p2: string): PartitionMap {
  return {
    worldId: 'w', bounds: BOUNDS, version: 1, nextId: 3,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: 100,
      low: { kind: 'leaf', id: 'p1', owner: p1, epoch: 1 },
      high: { kind: 'leaf', id: 'p2', owner: p2, epoch: 1 },
    },
  }
}

describe('ghosts of entities whose wire throws', () => {
  const p2Rect = { minX: 100, minY: 0, maxX: 200, maxY: 100 }
  const neighbour = (game: Game<DemoState, DemoMessage>) =>
    new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p2', epoch: 1, kind: 'world', rect: p2Rect, worldBounds: BOUNDS, maxPlayers: undefined,
      game, seed: 2, tickRate: 20, interestRadius: 1000, npcs: 0, logger: silentLogger(),
    })

  it('sends a batch whole to a neighbour on another worker, the failing one with zero fields worked out by the sender', () => {
    let bad = -1
    const game = wireThrowsFor((id) => id === bad)
    const west: PartitionRunner<unknown, unknown>[] = []
    const east: PartitionRunner<unknown, unknown>[] = []
    const { border: wA, sent } = borderOf('wA', splitOwned('wA', 'wB'), west)
    const { border: wB } = borderOf('wB', splitOwned('wA', 'wB'), east)
    const p1 = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: BOUNDS, maxPlayers: undefined,
      game, seed: 1, tickRate: 20, interestRadius: 1000, npcs: 0, logger: silentLogger(), border: wA,
    })
    // The receiver plays the same game: its wire would throw for `bad` too, but it is not asked.
    const p2 = neighbour(game)
    west.push(p1 as PartitionRunner<unknown, unknown>)
    east.push(p2 as PartitionRunner<unknown, unknown>)
    const ok = p1.sim.spawnNpc({ x: 95, y: 40 })
    bad = p1.sim.spawnNpc({ x: 95, y: 60 })
    for (let tick = 1; tick <= 3; tick++) {
      wA.beforeTick(tick)
      p1.tick()
      expect(() => wA.afterTick()).not.toThrow()
    }
    expect(() => wB.receive('wA', sent.filter((s) => s.peer === 'wB').map((s) => s.frame))).not.toThrow()
    wB.beforeTick(1)
    p2.tick()
    expect(p2.sim.ghosts().map((g) => [g.id, g.fields.kind, g.fields.hp])).toEqual([[ok, DemoKind.walker, 100], [bad, 0, 0]])
    // Its own snapshots' view and its ghost batch each tick, at the sender; nothing at the receiver.
    expect(p1.gameErrors).toBe(6)
    expect(p2.gameErrors).toBe(0)
  })

  it('publishes a partition’s own batch whole to its neighbour on the same worker', () => {
    let bad = -1
    const game = wireThrowsFor((id) => id === bad)
    const runners: PartitionRunner<unknown, unknown>[] = []
    const { border } = borderOf('wA', splitOwned('wA', 'wA'), runners)
    const p1 = new PartitionRunner<DemoState, DemoMessage>({
      worldId: 'w', partitionId: 'p1', epoch: 1, kind: 'world', rect, worldBounds: BOUNDS, maxPlayers: undefined,
      game, seed: 1, tickRate: 20, interestRadius: 1000, npcs: 0, logger: silentLogger(), border,
    })
    const p2 = neighbour(game)
    runners.push(p1 as PartitionRunner<unknown, unknown>, p2 as PartitionRunner<unknown, unknown>)
    // Both near the border (within the 16-unit margin), neither past it.
    const ok = p1.sim.spawnNpc({ x: 95, y: 40 })
    bad = p1.sim.spawnNpc({ x: 95, y: 60 })
    for (let tick = 1; tick <= 3; tick++) {
      border.beforeTick(tick)
      p1.tick()
      p2.tick()
      expect(() => border.afterTick()).not.toThrow()
    }
    expect(p2.sim.ghosts().map((g) => [g.id, g.fields.kind])).toEqual([[ok, DemoKind.walker], [bad, 0]])
    // Its own snapshots' view and its ghost batch each tick.
    expect(p1.gameErrors).toBe(6)
  })
})

describe('a game whose leave throws', () => {
  it('still removes the player wholly; the partition goes on and the player can come back', () => {
    const demo = createDemoGame({ walkerSpeed: [0, 0] })
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      leave() {
        throw new Error('game bug')
      },
    }
    const events: string[] = []
    const runner = runnerOf(game, { npcs: 2, onPlayer: (event, claims) => events.push(`${event} ${claims.playerId}`) })
    const alice = connection('alice')
    const bob = connection('bob')
    runner.addPlayer(alice.conn)
    runner.addPlayer(bob.conn)
    runner.tick()
    const first = runner.sim.playerEntity('alice') as number

    expect(() => alice.close()).not.toThrow()
    expect(runner.sim.playerEntity('alice')).toBeUndefined()
    expect(runner.sim.entity(first)).toBeUndefined()
    expect(runner.hasPlayer('alice')).toBe(false)
    expect(runner.sim.stats()).toMatchObject({ players: 1, entities: 3 })
    expect(events).toEqual(['joined alice', 'joined bob', 'left alice'])
    expect(runner.gameErrors).toBe(1)

    runner.tick()
    const again = connection('alice')
    runner.addPlayer(again.conn)
    runner.tick()
    expect(runner.sim.playerEntity('alice')).not.toBe(first)
    expect(runner.sim.playerEntity('alice')).toBeDefined()
    expect(again.snapshots()).toHaveLength(1)
    expect(bob.snapshots()).toHaveLength(3)
    expect(events.at(-1)).toBe('joined alice')
  })
})
