import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InterestGrid } from '../../worker/interest.ts'

function brute(xs: number[], ys: number[], x: number, y: number, r: number): number[] {
  const out: number[] = []
  for (let i = 0; i < xs.length; i++) if ((xs[i]! - x) ** 2 + (ys[i]! - y) ** 2 <= r * r) out.push(i)
  return out
}

describe('interest grid', () => {
  it('sees entries within the radius and none outside', () => {
    const g = new InterestGrid({ cellSize: 10 })
    g.begin()
    g.add(0, 0) // 0: the viewer
    g.add(9.9, 0) // 1: inside
    g.add(10, 0) // 2: exactly on the radius: inside
    g.add(7.1, 7.1) // 3: just outside (10.04)
    g.add(-5, -5) // 4: inside
    g.add(100, 100) // 5: far away
    g.build()
    expect([...g.query(0, 0, 10)].sort()).toEqual([0, 1, 2, 4])
    expect([...g.query(100, 100, 1)]).toEqual([5])
    expect([...g.query(500, 500, 10)]).toEqual([])
  })

  it('matches a brute-force scan for random points, radii and cell sizes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -500, max: 500, noNaN: true }), fc.double({ min: -500, max: 500, noNaN: true })), { maxLength: 200 }),
        fc.tuple(fc.double({ min: -600, max: 600, noNaN: true }), fc.double({ min: -600, max: 600, noNaN: true })),
        fc.double({ min: 0, max: 400, noNaN: true }),
        fc.double({ min: 1, max: 300, noNaN: true }),
        (pts, [qx, qy], r, cell) => {
          const g = new InterestGrid({ cellSize: cell, maxCells: 4096 })
          g.begin()
          for (const [x, y] of pts) g.add(x, y)
          g.build()
          const got = [...g.query(qx, qy, r)].sort((a, b) => a - b)
          expect(got).toEqual(brute(pts.map((p) => p[0]), pts.map((p) => p[1]), qx, qy, r))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('takes extra read-only entries after the own ones (ghosts) and reports them by number', () => {
    const g = new InterestGrid({ cellSize: 50 })
    g.begin()
    const own = [g.add(0, 0), g.add(30, 0)]
    const ghost = g.add(40, 0)
    g.build()
    expect(own).toEqual([0, 1])
    const seen = [...g.query(0, 0, 45)].sort()
    expect(seen).toEqual([0, 1, 2])
    expect(seen.filter((i) => i >= own.length)).toEqual([ghost])
  })

  it('rebuilds cleanly after growth and with no entries', () => {
    const g = new InterestGrid()
    g.begin()
    g.build()
    expect([...g.query(0, 0, 100)]).toEqual([])
    g.begin()
    for (let i = 0; i < 1000; i++) g.add(i, i)
    g.build()
    expect(g.query(0, 0, 2).length).toBe(2)
    g.begin()
    g.add(5, 5)
    g.build()
    expect([...g.query(0, 0, 100)]).toEqual([0])
  })
})
