/**
 * The cluster's tick clock. Every worker numbers its ticks from one epoch (wall-clock ms of tick 0,
 * kept at `keys.clock()`), so tick n comes within one interval on every worker: an entity handed
 * to another worker, or a partition shipped whole, goes on from the tick after the one it was
 * frozen at rather than at another worker's count, game code that keeps ticks in entity state (a
 * cooldown "until tick n") keeps its meaning, and a client sees one tick sequence whichever worker
 * it is on.
 *
 * The first worker to start writes the epoch (its own clock, rounded down to a second); the others
 * read it. Workers on several machines agree on tick numbers as closely as their clocks do.
 *
 * Each worker runs tick n at its own *phase* within the interval (`spreadPhase`: the middle of the
 * widest gap between the phases of the workers already registered), so tick n happens on every
 * worker within one interval but not at one instant: workers sharing cores do not all wake at once,
 * and an entity offered to a neighbour at the end of the sender's tick seldom waits for the
 * receiver's own tick to end (with every worker on one phase, every offer did). An entity handed to
 * a worker whose phase comes later in the interval sits out that worker's run of the tick it was
 * frozen at (`Simulation.importEntity`), so every entity is stepped at each number once.
 *
 * Snapshots carry ticks in 32 bits: at 20 Hz that is 6.8 years after the epoch (2.3 years at 60 Hz).
 */
import { z } from 'zod'
import { decodeRecord } from './records.ts'
import type { Keys } from './store/keys.ts'
import type { ClusterStore } from './store/types.ts'

const clockSchema = z.object({ epochMs: z.number().int().min(0) })

/**
 * A phase (a fraction of the tick interval, in [0, 1)) in the middle of the widest gap between the
 * `taken` ones: 0 when there are none, then ½, then the quarters, and so on.
 */
export function spreadPhase(taken: readonly number[]): number {
  const phases = [...new Set(taken.filter((p) => p >= 0 && p < 1))].sort((a, b) => a - b)
  if (phases.length === 0) return 0
  let best = { from: phases[phases.length - 1] as number, width: (phases[0] as number) + 1 - (phases[phases.length - 1] as number) }
  for (let k = 1; k < phases.length; k++) {
    const width = (phases[k] as number) - (phases[k - 1] as number)
    if (width > best.width) best = { from: phases[k - 1] as number, width }
  }
  return (best.from + best.width / 2) % 1
}

/** The cluster's tick epoch, written now (as `nowMs`, rounded down to a second) if nobody has yet. */
export async function clusterEpoch(store: ClusterStore, keys: Keys, nowMs: number = Date.now()): Promise<number> {
  const key = keys.clock()
  const proposed = JSON.stringify({ epochMs: Math.floor(nowMs / 1000) * 1000 })
  const res = await store.txn({
    compare: [{ key, target: 'createRevision', op: '==', value: 0 }],
    success: [{ type: 'put', key, value: proposed }],
    failure: [{ type: 'get', key }],
  })
  const value = res.succeeded ? proposed : res.reads[0]?.value
  if (value === undefined) throw new Error(`cluster clock ${key} vanished while being read`)
  return decodeRecord(clockSchema, key, value).epochMs
}
