/**
 * A ghost crosses the neighbour wire unchanged: position, facing, speed, the snapshot fields its
 * owner worked out, and (players only) the owner's last applied input, absent for an NPC.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { fromGhostState, toGhostState } from '../../worker/neighbours/codec.ts'
import type { Ghost } from '../../worker/world-view.ts'

// Adding 0 turns -0 into 0: proto3 writes no zero, and reads a missing one as 0.
const double = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map((v) => v + 0)
const coordinate = double(-1e6, 1e6)

const ghost: fc.Arbitrary<Ghost> = fc.record({
  id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  x: coordinate,
  y: coordinate,
  heading: double(-Math.PI, Math.PI),
  speed: double(0, 1e4),
  fields: fc.record({ kind: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), hp: fc.integer({ min: 0, max: 0xffff }) }),
  lastInputSeq: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
}, { requiredKeys: ['id', 'x', 'y', 'heading', 'speed', 'fields'] })

describe('ghosts on the neighbour wire', () => {
  it('arrive as they were sent, a batch at a time', () => {
    fc.assert(fc.property(fc.array(ghost, { maxLength: 20 }), fc.nat(), (ghosts, tick) => {
      const source = { worldId: 'w', partitionId: 'p1', epoch: 3 }
      const bytes = NeighbourFrame.encode({ frame: { $case: 'ghosts', value: { source, tick, ghosts: ghosts.map(toGhostState) } } }).finish()
      const frame = NeighbourFrame.decode(bytes).frame
      if (frame?.$case !== 'ghosts') throw new Error(`decoded a ${frame?.$case} frame`)
      expect(frame.value.source).toEqual(source)
      expect(frame.value.tick).toBe(tick)
      const back = frame.value.ghosts.map(fromGhostState)
      expect(back).toEqual(ghosts)
      // An NPC's ghost has no input number at all, not a zero.
      for (const [i, g] of back.entries()) expect('lastInputSeq' in g).toBe(ghosts[i]?.lastInputSeq !== undefined)
    }))
  })
})
