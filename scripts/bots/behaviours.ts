/**
 * Bot behaviours: what a headless player does each time it may send an input. Pure functions of the
 * bot's own position and a seeded RNG, so a run can be replayed.
 */

export type BehaviourName = 'wander' | 'path' | 'crowd'

export interface Point {
  x: number
  y: number
}

export interface BehaviourOptions {
  /** `crowd`: where everyone walks to. Default (100, 100). */
  target?: Point
  /** `path`: waypoints followed in a loop; default a 40-unit square starting where the bot spawned. */
  waypoints?: Point[]
  /** `wander`: how long one heading is kept, in inputs. Default 20–60. */
  turnEvery?: [number, number]
}

/** Decides one input from the bot's position (undefined before its first snapshot). */
export type Behaviour = (self: Point | undefined) => { moveX: number; moveY: number }

/** A small deterministic RNG (mulberry32), one per bot. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Unit vector from `from` to `to`, or zero when within `arrive` units. */
function toward(from: Point, to: Point, arrive: number): { moveX: number; moveY: number } {
  const dx = to.x - from.x
  const dy = to.y - from.y
  const d = Math.hypot(dx, dy)
  return d <= arrive ? { moveX: 0, moveY: 0 } : { moveX: dx / d, moveY: dy / d }
}

export function createBehaviour(name: BehaviourName, random: () => number, options: BehaviourOptions = {}): Behaviour {
  switch (name) {
    case 'wander': {
      const [lo, hi] = options.turnEvery ?? [20, 60]
      let left = 0
      let dir = { moveX: 0, moveY: 0 }
      return () => {
        if (left-- <= 0) {
          const a = random() * 2 * Math.PI
          dir = { moveX: Math.cos(a), moveY: Math.sin(a) }
          left = lo + Math.floor(random() * (hi - lo + 1))
        }
        return dir
      }
    }
    case 'path': {
      let points = options.waypoints
      let next = 0
      return (self) => {
        if (self === undefined) return { moveX: 0, moveY: 0 }
        points ??= [
          { x: self.x + 40, y: self.y },
          { x: self.x + 40, y: self.y + 40 },
          { x: self.x, y: self.y + 40 },
          { x: self.x, y: self.y },
        ]
        const wp = points[next % points.length] as Point
        const step = toward(self, wp, 1)
        if (step.moveX === 0 && step.moveY === 0) next++
        return step
      }
    }
    case 'crowd': {
      const target = options.target ?? { x: 100, y: 100 }
      // Not all the way: a crowd stands around the point rather than fighting over its centre.
      const arrive = 2 + random() * 8
      return (self) => (self === undefined ? { moveX: 0, moveY: 0 } : toward(self, target, arrive))
    }
  }
}

export function isBehaviourName(value: string): value is BehaviourName {
  return value === 'wander' || value === 'path' || value === 'crowd'
}
