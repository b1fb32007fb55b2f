/**
 * The ghosts a partition sees when its ground changes owner: the same partition at a newer epoch on
 * another worker is a source like any other (its retiring runner relays players whose entities the
 * new owner simulates), and an entity shown by two sources (the one that handed it over and has not
 * sent since, and its new owner) reaches a snapshot once, as the newest batch shows it.
 */
import { describe, expect, it } from 'vitest'
import { SnapshotReceiver } from '../../core/wire/snapshot-receiver.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { GhostStore } from '../../worker/neighbours/ghosts.ts'
import type { Ghost } from '../../worker/simulation.ts'
import { Simulation } from '../../worker/simulation.ts'

const ghost = (id: number, x: number): Ghost => ({ id, x, y: 50, heading: 0, speed: 0, fields: { kind: 2, flags: 0, hp: 1 } })

describe('ghost store', () => {
  it("shows a partition the same partition's batches from another epoch, not its own", () => {
    const store = new GhostStore()
    store.apply('w', 'p1', 2, 2, [ghost(7, 40)], 10)
    // The retiring runner of p1 at epoch 1 relays entity 7's player: it sees the new owner's batch.
    expect(store.ghostsFor('w', 'p1', 1, 10).map((g) => g.id)).toEqual([7])
    // The new owner's own runner does not see its own batch.
    expect(store.ghostsFor('w', 'p1', 2, 10)).toEqual([])
  })

  it('lists the newest batches first, after what it is given', () => {
    const store = new GhostStore()
    store.apply('w', 'p3', 1, undefined, [ghost(7, 150)], 26)
    store.apply('w', 'p2', 2, 2, [ghost(7, 151)], 30)
    const out = store.ghostsFor('w', 'p1', 1, 30, [ghost(9, 1)])
    expect(out.map((g) => [g.id, g.x])).toEqual([[9, 1], [7, 151], [7, 150]])
    // The stale batch fades after 10 ticks without a new one.
    expect(store.ghostsFor('w', 'p1', 1, 37).map((g) => g.x)).toEqual([151])
  })
})

describe('a simulation given two copies of one ghost', () => {
  it('keeps the first, and its snapshots name the entity once', () => {
    const sim = new Simulation({ game: createDemoGame(), seed: 1, bounds: { minX: 0, minY: 0, maxX: 100, maxY: 100 }, firstEntityId: 1000 })
    sim.addPlayer('p', { x: 50, y: 50 })
    sim.setGhosts([ghost(7, 60), ghost(5, 55), ghost(7, 58)])
    sim.step()
    expect(sim.ghosts().map((g) => [g.id, g.x])).toEqual([[5, 55], [7, 60]])
    const rx = new SnapshotReceiver()
    const result = rx.receive(sim.buildSnapshot('p') ?? new Uint8Array())
    expect(result).toMatchObject({ kind: 'applied' })
    expect(rx.state.toEntities().map((e) => e.id)).toEqual([5, 7, 1000])
    expect(rx.entity(7)).toMatchObject({ x: 60 * 16 })
  })
})
