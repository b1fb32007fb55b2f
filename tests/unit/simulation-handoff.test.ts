/**
 * Entities leaving one simulation and continuing in another: same id, same input sequence (every
 * input applied once across the move), the old side relaying a player whose connection stayed
 * there, and ghosts the game can read and message.
 */
import { describe, expect, it } from 'vitest'
import type { InputRecord } from '../../core/wire/input-codec.ts'
import { readSnapshotHeader } from '../../core/wire/snapshot-codec.ts'
import { SnapshotReceiver } from '../../core/wire/snapshot-receiver.ts'
import { DecodeError } from '../../core/wire/errors.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { Game, GhostView } from '../../worker/game/types.ts'
import { Simulation } from '../../worker/simulation.ts'

const world = { minX: 0, minY: 0, maxX: 200, maxY: 100 }
const left = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
const right = { minX: 100, minY: 0, maxX: 200, maxY: 100 }

const input = (seq: number): InputRecord => ({ seq, tick: seq, moveX: 127, moveY: 0, buttons: 0 })

function recording(log: number[]): Game<DemoState, DemoMessage> {
  const demo = createDemoGame({ walkerSpeed: [0, 0] })
  return { ...demo, input: (ctx, e, i) => (log.push(i.seq), demo.input(ctx, e, i)) }
}

describe('simulation entity export and import', () => {
  it('moves a player with its state and pending inputs, applying each input exactly once', () => {
    const applied: number[] = []
    const a = new Simulation({ game: recording(applied), seed: 1, bounds: left, worldBounds: world, firstEntityId: 1 })
    const b = new Simulation({ game: recording(applied), seed: 2, bounds: right, worldBounds: world, firstEntityId: 100_001 })
    const id = a.addPlayer('p', { x: 99, y: 50 })
    a.receiveInput('p', { ackTick: null, inputs: [input(1), input(2)] })
    a.step()
    a.receiveInput('p', { ackTick: null, inputs: [input(2), input(3), input(4)] })
    const out = a.exportEntity(id)
    expect(out?.session).toMatchObject({ playerId: 'p', lastAppliedSeq: 2 })
    expect(out?.session?.pending.map((i) => i.seq)).toEqual([3, 4])
    expect(a.entity(id)).toBeUndefined()
    expect(a.playerEntity('p')).toBeUndefined()
    expect(b.importEntity(out ?? { entity: { id: 0 } as never, session: null })).toBe(true)
    // Late copies of old inputs arrive at the new owner too: ignored.
    b.receiveInput('p', { ackTick: null, inputs: [input(1), input(2), input(3), input(5)] })
    b.step()
    expect(applied).toEqual([1, 2, 3, 4, 5])
    expect(b.playerEntity('p')).toBe(id)
    expect(b.lastInputSeq('p')).toBe(5)
    expect(b.entity(id)?.state.role).toBe('player')
    // Entity ids keep their range: the importer's own ids do not collide.
    expect(b.spawnNpc()).toBe(100_001)
  })

  it('does not step an entity again under the tick number its exporter last stepped it at', () => {
    // a ticks early in the interval and b later: b takes the entity in before running the number
    // a just ran for it.
    const stepped: number[] = []
    const applied: number[] = []
    const demo = recording(applied)
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      tick: (ctx, dt) => {
        for (const e of ctx.entities()) if (e.control === 'player') stepped.push(ctx.tick)
        demo.tick(ctx, dt)
      },
    }
    const a = new Simulation({ game, seed: 1, bounds: left, worldBounds: world, firstEntityId: 1, startTick: 40 })
    const b = new Simulation({ game, seed: 2, bounds: right, worldBounds: world, firstEntityId: 100_001, startTick: 40 })
    const id = a.addPlayer('p', { x: 99, y: 50 })
    b.addPlayer('q', { x: 150, y: 50 })
    a.receiveInput('p', { ackTick: null, inputs: [input(1)] })
    b.step(40)
    a.step(40)
    a.step(41)
    const at41 = { ...a.entity(id) }
    const out = a.exportEntity(id)
    if (!out) throw new Error('no export')
    expect(b.importEntity(out, 41)).toBe(true)
    b.receiveInput('p', { ackTick: null, inputs: [input(2)] })
    stepped.length = 0
    b.step(41)
    // Sat out: not stepped, its input kept, shown in the snapshots of 41 as a left it.
    expect(stepped).toEqual([41])
    expect(applied).toEqual([1])
    expect(b.entity(id)).toMatchObject({ x: at41.x, y: at41.y })
    expect(b.buildSnapshot('p')).not.toBeNull()
    stepped.length = 0
    b.step(42)
    expect(stepped).toEqual([42, 42])
    expect(applied).toEqual([1, 2])
    expect(b.entity(id)?.x).toBeGreaterThan(at41.x ?? 0)

    // Handed back to a worker that has run that number already (its tick comes earlier in the
    // interval): stepped at its next tick.
    a.step(42)
    const back = b.exportEntity(id)
    if (!back) throw new Error('no export')
    expect(a.importEntity(back, 42)).toBe(true)
    stepped.length = 0
    a.step(43)
    expect(stepped).toEqual([43])
  })

  it('lets an entity walk past its partition within the world and keeps an imported id unique', () => {
    const a = new Simulation({ game: createDemoGame(), seed: 1, bounds: left, worldBounds: world, firstEntityId: 1 })
    const id = a.addPlayer('p', { x: 99, y: 50 })
    for (let k = 1; k <= 10; k++) {
      a.receiveInput('p', { ackTick: null, inputs: [input(k)] })
      a.step()
    }
    expect(a.entity(id)?.x).toBeGreaterThan(100)
    const x = a.exportEntity(id)
    if (!x) throw new Error('no export')
    const c = new Simulation({ game: createDemoGame(), seed: 1, bounds: left, worldBounds: world, firstEntityId: 1 })
    c.importEntity(x)
    expect(c.spawnNpc()).toBe(id + 1)
    expect(c.importEntity(x)).toBe(false)
  })

  it('keeps its own id range when it imports an entity from the next partition’s range', () => {
    // p5 hands out 500001…, p6 600001…: a walker from p6 crossing into p5 must not make p5's next
    // entity 600002, an id p6 has handed out (or will) itself.
    const p5 = new Simulation({ game: createDemoGame(), seed: 1, bounds: left, worldBounds: world, firstEntityId: 500_001, entityIdRange: 100_000 })
    const p6 = new Simulation({ game: createDemoGame(), seed: 1, bounds: right, worldBounds: world, firstEntityId: 600_001, entityIdRange: 100_000 })
    expect(p5.spawnNpc({ x: 50, y: 50 })).toBe(500_001)
    const walker = p6.spawnNpc({ x: 101, y: 50 })
    const x = p6.exportEntity(walker)
    if (!x) throw new Error('no export')
    expect(p5.importEntity(x)).toBe(true)
    expect(p5.addPlayer('p')).toBe(500_002)
    expect(p6.spawnNpc()).toBe(600_002)
  })

  it('keeps relaying a player whose entity moved away: snapshots around its ghost, acks from the owner', () => {
    const a = new Simulation({ game: createDemoGame({ walkerSpeed: [0, 0] }), seed: 1, bounds: left, worldBounds: world, firstEntityId: 1 })
    const id = a.addPlayer('p', { x: 99, y: 50 })
    const npc = a.spawnNpc({ x: 90, y: 50 })
    a.receiveInput('p', { ackTick: null, inputs: [input(1)] })
    a.step()
    a.exportEntity(id, { relay: true })
    expect(a.isRelay('p')).toBe(true)
    expect(a.entityCount).toBe(1)
    a.setGhosts([{ id, x: 101, y: 50, heading: 0, speed: 4, fields: { kind: 1, flags: 0, hp: 100 }, lastInputSeq: 7 }])
    a.step()
    const bytes = a.buildSnapshot('p')
    expect(bytes).not.toBeNull()
    const header = readSnapshotHeader(bytes ?? new Uint8Array())
    if (header instanceof DecodeError) throw new Error(header.toString())
    expect(header.ackInputSeq).toBe(7)
    const rx = new SnapshotReceiver()
    rx.receive(bytes ?? new Uint8Array())
    expect(rx.state.toEntities().map((e) => e.id).sort((p, q) => p - q)).toEqual([id, npc].sort((p, q) => p - q))

    // It comes back: the relay becomes the player's session again, same id.
    a.importEntity({ entity: { id, control: 'player', playerId: 'p', x: 99, y: 50, vx: 0, vy: 0, heading: 0, radius: 0.5, state: { role: 'player', targetX: 0, targetY: 0, speed: 4, moveX: 0, moveY: 0, hp: 100, bumpedTicks: 0 } }, session: { playerId: 'p', lastAppliedSeq: 7, pending: [input(8)], ackedTick: null } })
    expect(a.isRelay('p')).toBe(false)
    expect(a.playerEntity('p')).toBe(id)
    a.step()
    expect(a.lastInputSeq('p')).toBe(8)
  })

  it('lets the game read ghosts and message them; messages to ghosts leave through takeOutboundMessages', () => {
    const seen: GhostView[][] = []
    const demo = createDemoGame({ walkerSpeed: [0, 0] })
    const game: Game<DemoState, DemoMessage> = {
      ...demo,
      tick: (ctx, dt) => {
        demo.tick(ctx, dt)
        seen.push([...ctx.ghosts()])
        for (const g of ctx.ghosts()) ctx.send(1, g.id, { type: 'bump', strength: 1 })
      },
    }
    const sim = new Simulation({ game, seed: 1, bounds: left, worldBounds: world, firstEntityId: 1 })
    sim.spawnNpc({ x: 98, y: 50 })
    sim.setGhosts([{ id: 100_001, x: 102, y: 50, heading: 0, speed: 0, fields: { kind: 2, flags: 0, hp: 5 } }])
    sim.step()
    expect(seen[0]).toEqual([])
    sim.step()
    expect(seen[1]?.map((g) => g.id)).toEqual([100_001])
    expect(sim.takeOutboundMessages()).toEqual([{ from: 1, to: 100_001, payload: { type: 'bump', strength: 1 } }])
    expect(sim.takeOutboundMessages()).toEqual([])
  })
})
