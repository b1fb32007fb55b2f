/**
 * A worker crashes (it stops without deregistering; its lease runs out) with a real coordinator on
 * the in-memory store: the coordinator gives its partition to the survivor, which starts that ground
 * afresh. Its walkers died with the crashed worker, so the survivor spawns the partition's share
 * again (it must not wait for handoffs from a predecessor that is gone), and none of the new
 * entities takes the id of an entity alive elsewhere. The end-to-end figures (real processes,
 * SIGKILL, players reconnecting) are the `failover` benchmark's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { encodeMap } from '../../core/partition-map.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { runnersOf } from '../../scripts/bench/lib/census.ts'
import { eventually } from '../helpers/eventually.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 400, maxY: 200 }
const NPCS = 40

/** A crash as the cluster sees it: the worker stops without deregistering; its lease runs out. */
async function crash(w: Worker): Promise<void> {
  const internals = w as unknown as { membership?: { abandon(): void } }
  internals.membership?.abandon()
  internals.membership = undefined
  await w.stop()
}

describe('failover after a worker crash', () => {
  const store = new MemoryStore()
  const keys = scopedKeys('/failover/')
  let transport: ClientTransport<TicketClaims>
  let coordinator: Coordinator
  const workers = new Map<string, Worker>()

  beforeAll(async () => {
    const { publicKey } = await generateTicketKeys()
    transport = await ClientTransport.start<TicketClaims>({ authorize: ticketAdmission(() => new Map([['k', publicKey]]), () => true) })
    coordinator = new Coordinator(store, keys, coordinatorOptions({ id: 'c', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: 100, logLevel: 'silent' }), silentLogger())
    await coordinator.start()
    for (const id of ['wA', 'wB']) {
      const w = new Worker({
        store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}),
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: NPCS, leaseTtlSeconds: 1, reportIntervalMs: 100, logLevel: 'silent' }),
      })
      await w.start()
      workers.set(id, w)
    }
  })

  afterAll(async () => {
    for (const w of workers.values()) await w.stop()
    await coordinator.stop()
    await transport.close()
    await store.close()
  })

  /** Every entity the worker simulates, by id (a duplicate id shows as a count above 1). */
  const census = (w: Worker): Map<number, number> => {
    const out = new Map<number, number>()
    for (const r of runnersOf(w)) for (const e of r.sim.allEntities()) out.set(e.id, (out.get(e.id) ?? 0) + 1)
    return out
  }

  it('gives the crashed worker’s ground to the survivor, which repopulates it without reusing live ids', async () => {
    // Only the failover changes owners: no balancing moves (orphans are still assigned while paused).
    coordinator.rebalancer.paused = true
    const leaf = (id: string, owner: string) => ({ kind: 'leaf' as const, id, owner, epoch: 1 })
    await store.put(keys.worldMap('w'), encodeMap({
      worldId: 'w', bounds: BOUNDS, version: 1, nextId: 3,
      root: { kind: 'split', id: 'p0', axis: 'x', at: 200, low: leaf('p1', 'wA'), high: leaf('p2', 'wB') },
    }))
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    const wA = workers.get('wA') as Worker
    const wB = workers.get('wB') as Worker
    await eventually('each half simulated with its walkers', () => wA.partitions().length === 1 && wB.partitions().length === 1 &&
      census(wA).size + census(wB).size === NPCS)
    // Some of wB's walkers live on wA at the crash: their ids are p2's, and must stay unique.
    const survivors = census(wA)

    await crash(wB)
    workers.delete('wB')
    await eventually('the survivor owns both halves', () => wA.partitions().length === 2, 10_000)
    // The crashed half's walkers died with it: the survivor spawns that ground's share again.
    await eventually('the world is populated again', () => census(wA).size >= survivors.size + NPCS / 2, 5_000)
    const after = census(wA)
    expect([...after.values()].filter((n) => n > 1)).toEqual([])
    for (const id of survivors.keys()) expect(after.has(id)).toBe(true)
    // Stays so: no walker is spawned twice, none is lost.
    await new Promise((r) => setTimeout(r, 500))
    expect(census(wA).size).toBe(after.size)
  })
})
