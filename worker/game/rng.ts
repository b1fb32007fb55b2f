/**
 * A small seeded generator (mulberry32): fast, 32-bit state, good enough for gameplay and
 * reproducible across runs and platforms.
 */
import type { Rng } from './types.ts'

export class SeededRng implements Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  range(min: number, max: number): number {
    return min + this.next() * (max - min)
  }
}
