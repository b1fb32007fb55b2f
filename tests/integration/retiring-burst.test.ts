/**
 * A partition that moves to another worker while it holds far more entities than may be on offer
 * at once (`maxOffersPerPeer`), with a retiring grace far shorter than the handover takes. Entities
 * wait their turn in the old owner's simulation; when the grace runs out the old runner must keep
 * going until the last of them is taken, not stop and drop them.
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
import { DEFAULT_HANDOFF } from '../../worker/handoff/machine.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 200, maxY: 100 }
/** Many times the per-peer bound: the handover takes well over a second at 20 ticks a second. */
const ENTITIES = 4_000

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

describe('a retiring partition holding more entities than may be offered at once', () => {
  const store = new MemoryStore()
  const keys = scopedKeys('/retiring-burst/')
  let transport: ClientTransport<TicketClaims>
  const workers: Worker<DemoState, DemoMessage>[] = []

  beforeAll(async () => {
    const { publicKey } = await generateTicketKeys()
    transport = await ClientTransport.start<TicketClaims>({ authorize: ticketAdmission(() => new Map([['k', publicKey]]), () => true) })
    for (const id of ['wA', 'wB']) {
      const w = new Worker<DemoState, DemoMessage>({
        store, keys, transport, logger: silentLogger(), game: () => createDemoGame({ walkerSpeed: [0, 0] }),
        // A grace that ends long before the handover can: it must not cost a single entity.
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: 0, reportIntervalMs: 100, logLevel: 'silent', retireGraceMs: 100 }),
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

  it('keeps handing over past its grace until every entity is taken, none lost or doubled', async () => {
    const [wA, wB] = workers as [Worker<DemoState, DemoMessage>, Worker<DemoState, DemoMessage>]
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await store.put(keys.worldMap('w'), encodeMap(map('wA', 1)))
    await eventually('both partitions simulated', () => wA.partitions().includes('w:p1') && wB.partitions().includes('w:p2'))
    await eventually('the pair is linked', () => wA.links.connected().includes('wB'))
    const p1 = wA.runner('w', 'p1')
    const ids = new Set<number>()
    for (let i = 0; i < ENTITIES; i++) ids.add(p1?.sim.spawnNpc({ x: 5 + (i % 90), y: 5 + Math.floor(i / 90) * 2 }) as number)
    expect(ids.size).toBe(ENTITIES)

    await store.put(keys.worldMap('w'), encodeMap(map('wB', 2)))
    await eventually('wA handed p1 over and stopped it', () => wA.runner('w', 'p1') === undefined, 30_000, 20)
    const where = new Map<number, string[]>()
    for (const w of workers) {
      for (const p of ['p1', 'p2']) for (const e of w.runner('w', p)?.sim.allEntities() ?? []) where.set(e.id, [...(where.get(e.id) ?? []), `${w.id}/${p}`])
    }
    const missing = [...ids].filter((id) => !where.has(id))
    expect(missing, 'entities lost').toEqual([])
    const doubled = [...where].filter(([, who]) => who.length > 1)
    expect(doubled, 'entities simulated twice').toEqual([])
    expect([...ids].every((id) => where.get(id)?.[0] === 'wB/p1')).toBe(true)
    expect(wA.border.offersOut()).toEqual([])
    // The handover was paced: never more than the bound on offer at once, so it outlived the grace.
    expect(wA.border.stats.offersWaitingPeak).toBe(DEFAULT_HANDOFF.maxOffersPerPeer)
  })
})
