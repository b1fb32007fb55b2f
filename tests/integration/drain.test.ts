/**
 * Draining a worker with a real coordinator: the worker marks itself draining, the coordinator gives
 * its partitions to the other worker (epoch + 1), the old owner hands every entity over to the new
 * one, and stops. Nothing is lost and nothing is spawned twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 400, maxY: 400 }
const NPCS = 50

describe('draining a worker', () => {
  const store = new MemoryStore()
  const keys = scopedKeys('/drain/')
  let transport: ClientTransport<TicketClaims>
  let coordinator: Coordinator
  const workers: Worker[] = []

  beforeAll(async () => {
    const { publicKey } = await generateTicketKeys()
    transport = await ClientTransport.start<TicketClaims>({
      authorize: ticketAdmission(() => new Map([['k', publicKey]]), () => true),
    })
    coordinator = new Coordinator(
      store, keys,
      coordinatorOptions({ id: 'c', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: 100, logLevel: 'silent' }),
      silentLogger(),
    )
    await coordinator.start()
    for (const id of ['wA', 'wB']) {
      const w = new Worker({
        store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}),
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: NPCS, reportIntervalMs: 100, logLevel: 'silent' }),
      })
      await w.start()
      workers.push(w)
    }
  })

  afterAll(async () => {
    for (const w of workers) await w.stop()
    await coordinator.stop()
    await transport.close()
    await store.close()
  })

  const entities = (w: Worker) =>
    w.partitions().reduce((n, k) => n + (w.runner(...(k.split(':') as [string, string]))?.sim.entityCount ?? 0), 0) + w.border.offersOut().length

  it('hands every partition and entity to the other worker, then stops', async () => {
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await eventually('the world is simulated', () => workers.some((w) => w.partitions().some((k) => k.startsWith('w:'))))
    await eventually('its walkers are all there', () => workers.reduce((n, w) => n + entities(w), 0) === NPCS)
    const owner = workers.find((w) => w.partitions().some((k) => k.startsWith('w:'))) as Worker
    const other = workers.find((w) => w !== owner) as Worker
    const before = workers.reduce((n, w) => n + entities(w), 0)

    expect(await owner.drain(10_000)).toBe(true)
    expect(other.partitions().filter((k) => k.startsWith('w:')).length).toBeGreaterThan(0)
    await eventually('every walker arrived', () => entities(other) === before)
    // And stays so: nothing spawned again, nothing lost later.
    await new Promise((r) => setTimeout(r, 500))
    expect(entities(other)).toBe(before)
  })
})
