/**
 * A worker following the partition maps: it simulates what it is given, stops what moves away,
 * keeps a partition through a wiped map for its grace period but drops a world deleted on purpose at
 * once, and its load reaches the coordinator leader over gRPC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { createMap, encodeMap } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
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

describe('worker runtime', () => {
  const store = new MemoryStore()
  const keys = scopedKeys('/wr/')
  let transport: ClientTransport<TicketClaims>
  let worker: Worker
  let coordinator: Coordinator

  beforeAll(async () => {
    const { publicKey } = await generateTicketKeys()
    transport = await ClientTransport.start<TicketClaims>({
      authorize: ticketAdmission(() => new Map([['k', publicKey]]), (id) => id === 'w1'),
    })
    coordinator = new Coordinator(
      store, keys,
      coordinatorOptions({ id: 'c', grpcPort: 0, httpPort: 0, rebalanceIntervalMs: 100, logLevel: 'silent', planner: { maxMovesPerRound: 0 } }),
      silentLogger(),
    )
    await coordinator.start()
    worker = new Worker({
      store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}),
      options: workerOptions({ id: 'w1', port: 0, grpcPort: 0, opsPort: 0, npcs: 40, reportIntervalMs: 100, orphanGraceMs: 600, logLevel: 'silent' }),
    })
    await worker.start()
  })

  afterAll(async () => {
    await worker.stop()
    await coordinator.stop()
    await transport.close()
    await store.close()
  })

  const putRoom = async (id: string, owner: string, epoch = 1) => {
    await store.put(keys.world(id), JSON.stringify({ id, kind: 'room', bounds: BOUNDS, maxPlayers: 4, labels: {}, createdAt: Date.now() }))
    const map: PartitionMap = { ...createMap(id, BOUNDS, owner), root: { kind: 'leaf', id: 'p0', owner, epoch } }
    await store.put(keys.worldMap(id), encodeMap(map))
  }

  it('simulates a partition once the map gives it to this worker, and reports its load to the leader', async () => {
    await putRoom('r1', 'w1')
    await eventually('r1 simulated', () => worker.partitions().includes('r1:p0'))
    const runner = worker.runner('r1', 'p0')
    expect(runner?.sim.entityCount).toBe(40)
    const ticks = runner?.sim.tick ?? 0
    await eventually('ticks advance', () => (runner?.sim.tick ?? 0) > ticks + 3)
    await eventually('the leader has the load report', () =>
      coordinator.loads.get('w1')?.report.partitions.find((p) => p.partition?.worldId === 'r1' && p.entities === 40),
    )
    const world = coordinator.operator.world('r1')
    expect(world?.partitions[0]?.load?.entities).toBe(40)
    expect(world?.partitions[0]?.load?.tickCostMs).toBeGreaterThan(0)
  })

  it('stops a partition when its owner changes', async () => {
    await putRoom('r2', 'w1')
    await eventually('r2 simulated', () => worker.partitions().includes('r2:p0'))
    const map: PartitionMap = { ...createMap('r2', BOUNDS, 'w9'), root: { kind: 'leaf', id: 'p0', owner: 'w9', epoch: 2 } }
    await store.put(keys.worldMap('r2'), encodeMap(map))
    await eventually('r2 dropped', () => !worker.partitions().includes('r2:p0'))
  })

  it('keeps a partition through a wiped map, and the leader rebuilds the map from its reports', async () => {
    await putRoom('r3', 'w1')
    await eventually('r3 simulated', () => worker.partitions().includes('r3:p0'))
    await store.deletePrefix(keys.world('r3'))
    await eventually('the map is rebuilt', async () => (await store.get(keys.worldMap('r3')))?.value.includes('"owner":"w1"'), 5_000)
    expect((await store.get(keys.world('r3')))?.value).toContain('"kind":"room"')
    await new Promise((r) => setTimeout(r, 800))
    expect(worker.partitions()).toContain('r3:p0')
  })

  it('gives a partition up when its map stays gone past the grace period', async () => {
    const lonelyKeys = scopedKeys('/wr-nobody-leads/')
    const lonely = new Worker({
      store, keys: lonelyKeys, transport, logger: silentLogger(), game: () => createDemoGame({}),
      options: workerOptions({ id: 'w2', port: 0, grpcPort: 0, opsPort: 0, orphanGraceMs: 600, logLevel: 'silent' }),
    })
    await lonely.start()
    try {
      await store.put(lonelyKeys.world('r5'), JSON.stringify({ id: 'r5', kind: 'room', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
      await store.put(lonelyKeys.worldMap('r5'), encodeMap({ ...createMap('r5', BOUNDS, 'w2'), root: { kind: 'leaf', id: 'p0', owner: 'w2', epoch: 1 } }))
      await eventually('r5 simulated', () => lonely.partitions().includes('r5:p0'))
      await store.deletePrefix(lonelyKeys.world('r5'))
      const wipedAt = Date.now()
      await new Promise((r) => setTimeout(r, 300))
      expect(lonely.partitions()).toContain('r5:p0')
      await eventually('r5 given up', () => !lonely.partitions().includes('r5:p0'), 5_000)
      expect(Date.now() - wipedAt).toBeGreaterThanOrEqual(550)
    } finally {
      await lonely.stop()
    }
  })

  it('drops a world deleted on purpose at once', async () => {
    await putRoom('r4', 'w1')
    await eventually('r4 simulated', () => worker.partitions().includes('r4:p0'))
    await store.txn({
      compare: [],
      success: [{ type: 'deletePrefix', prefix: keys.world('r4') }, { type: 'put', key: keys.tombstone('r4'), value: 'closed' }],
    })
    const deletedAt = Date.now()
    await eventually('r4 dropped', () => !worker.partitions().includes('r4:p0'))
    expect(Date.now() - deletedAt).toBeLessThan(400)
  })

  it('registers itself with its client URL and gRPC address, and leaves when stopped', async () => {
    const kv = await store.get(keys.worker('w1'))
    const record = JSON.parse(kv?.value ?? '{}') as { clientUrl: string; grpcAddress: string }
    expect(record.clientUrl).toBe(`${transport.url}:${transport.port}`)
    expect(record.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    const res = await fetch(`${worker.addresses.ops}/metrics`)
    expect(await res.text()).toContain('tessera_worker_partitions')
  })
})
