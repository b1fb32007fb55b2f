/**
 * A partition that moves to another worker hands over even the entities standing just past its
 * edge (inside the hysteresis band, so not yet handed off): they go to the partition's new owner,
 * not to the neighbour whose ground they stand on, which would refuse an offer from the retiring
 * runner's old epoch until the retiring grace ran out and the entity was lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { encodeMap } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 200, maxY: 100 }

function map(p1Owner: string, p1Epoch: number): PartitionMap {
  return {
    worldId: 'w', bounds: BOUNDS, version: p1Epoch, nextId: 3,
    root: {
      kind: 'split', id: 'p0', axis: 'x', at: 100,
      low: { kind: 'leaf', id: 'p1', owner: p1Owner, epoch: p1Epoch },
      high: { kind: 'leaf', id: 'p2', owner: 'wB', epoch: 1 },
    },
  }
}

describe('a retiring partition', () => {
  const store = new MemoryStore()
  const keys = scopedKeys('/retiring/')
  let transport: ClientTransport<TicketClaims>
  const workers: Worker<DemoState, DemoMessage>[] = []

  beforeAll(async () => {
    const { publicKey } = await generateTicketKeys()
    transport = await ClientTransport.start<TicketClaims>({ authorize: ticketAdmission(() => new Map([['k', publicKey]]), () => true) })
    for (const id of ['wA', 'wB']) {
      const w = new Worker<DemoState, DemoMessage>({
        store, keys, transport, logger: silentLogger(), game: () => createDemoGame({ walkerSpeed: [0, 0] }),
        // A short grace: without the fix the entity is lost when it ends.
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: 0, reportIntervalMs: 100, logLevel: 'silent', retireGraceMs: 3_000 }),
      })
      await w.start()
      workers.push(w)
    }
  })

  afterAll(async () => {
    for (const w of workers) await w.stop()
    await transport?.close()
    await store.close()
  })

  it('hands an entity standing past its edge to its own new owner, which keeps it', async () => {
    const [wA, wB] = workers as [Worker<DemoState, DemoMessage>, Worker<DemoState, DemoMessage>]
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await store.put(keys.worldMap('w'), encodeMap(map('wA', 1)))
    await eventually('both partitions simulated', () => wA.partitions().includes('w:p1') && wB.partitions().includes('w:p2'))
    await eventually('the pair is linked', () => wA.links.connected().includes('wB'))
    // 2 units into p2's ground: inside the 4-unit hysteresis band, so p1 keeps it.
    const id = wA.runner('w', 'p1')?.sim.spawnNpc({ x: 102, y: 50 }) as number
    for (let t = 0; t < 5; t++) await new Promise((r) => setTimeout(r, 50))
    expect(wA.runner('w', 'p1')?.sim.entity(id)).toBeDefined()

    await store.put(keys.worldMap('w'), encodeMap(map('wB', 2)))
    await eventually('wA handed p1 over and stopped it', () => wA.runner('w', 'p1') === undefined, 10_000)
    const holders = ['p1', 'p2'].filter((p) => wB.runner('w', p)?.sim.entity(id) !== undefined)
    expect(holders).toHaveLength(1)
    expect(wB.border.offersOut()).toEqual([])
  })
})
