/**
 * An offer whose receiver's registration ends before it answers (the receiver died, or lost the
 * store): its sender takes the entity back and simulates it, then offers it again only to a live
 * worker. Before, the entity stayed held out of every simulation for as long as its sender ran (a
 * player's inputs piling up unapplied), and was destroyed with the sender's partition.
 */
import { describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import { twoWorkers } from '../helpers/two-borders.ts'

/** wA's p1 offers an entity 6 units into p2 to wB, which never answers: its frames go nowhere. */
function unanswered() {
  const w = twoWorkers(createDemoGame({ walkerSpeed: [0, 0] }))
  const id = w.p1.sim.spawnNpc({ x: 106, y: 50 })
  w.step(false)
  w.dropFromA()
  expect(w.offers).toHaveLength(1)
  expect(w.copies(id)).toEqual(['offered by wA'])
  return { w, id }
}

describe('an offer whose receiver is gone', () => {
  it('is held, unanswered, for as long as the receiver is registered (the control)', () => {
    const { w, id } = unanswered()
    for (let t = 0; t < 40; t++) {
      w.step(false)
      w.dropFromA()
    }
    expect(w.copies(id)).toEqual(['offered by wA'])
    // Re-sent with back-off to the same receiver, never answered.
    expect(w.offers.length).toBeGreaterThan(1)
  })

  it('comes back to its sender at the first tick boundary after the receiver loses its registration, and is offered to no one dead', () => {
    const { w, id } = unanswered()
    for (let t = 0; t < 3; t++) {
      w.step(false)
      w.dropFromA()
    }
    const ticked = w.p1.sim.tick
    w.live.delete('wB')
    w.step(false)
    w.dropFromA()
    expect(w.copies(id)).toEqual(['p1'])
    const offered = w.offers.length
    for (let t = 0; t < 40; t++) {
      w.step(false)
      w.dropFromA()
      expect(w.copies(id)).toEqual(['p1'])
    }
    // Simulated again (standing where it stood), and no further offer to the dead worker.
    expect(w.p1.sim.tick).toBe(ticked + 41)
    expect(w.p1.sim.entity(id)?.x).toBe(106)
    expect(w.offers).toHaveLength(offered)
  })

  it('is offered to the ground’s next owner once the receiver is registered again (as a successor would be)', () => {
    const { w, id } = unanswered()
    w.live.delete('wB')
    w.step(false)
    w.dropFromA()
    expect(w.copies(id)).toEqual(['p1'])
    w.live.add('wB')
    for (let t = 0; t < 10; t++) w.step()
    expect(w.copies(id)).toEqual(['p2'])
  })
})
