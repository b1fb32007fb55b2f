/**
 * The cluster's tick clock. Every worker numbers its ticks from one epoch (wall-clock ms of tick 0,
 * kept at `keys.clock()`), so tick n is due at the same instant on every worker: an entity handed
 * to another worker, or a partition shipped whole, goes on at the next tick number rather than at
 * another worker's count, game code that keeps ticks in entity state (a cooldown "until tick n")
 * keeps its meaning, and a client sees one tick sequence whichever worker it is on.
 *
 * The first worker to start writes the epoch (its own clock, rounded down to a second); the others
 * read it. Workers on several machines agree on tick numbers as closely as their clocks do.
 * Snapshots carry ticks in 32 bits: at 20 Hz that is 6.8 years after the epoch (2.3 years at 60 Hz).
 */
import { z } from 'zod'
import { decodeRecord } from './records.ts'
import type { Keys } from './store/keys.ts'
import type { ClusterStore } from './store/types.ts'

const clockSchema = z.object({ epochMs: z.number().int().min(0) })

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
