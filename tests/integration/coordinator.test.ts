/**
 * The coordinator service in one process, on the memory store and on a real etcd member: leadership
 * hand-over, failover of a worker's partitions, rebuilding wiped maps, and operator actions through
 * the HTTP API and `tessera ctl`. Workers are minimal (no simulation) but register, follow the maps
 * and stream load over real gRPC.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import type { ClusterSummary, WorldDetail } from '../../core/api/types.ts'
import { area } from '../../core/geometry.ts'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { decodeMap, leaves } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { Keys } from '../../core/store/keys.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { runCtl } from '../../scripts/cli/ctl.ts'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { eventually } from '../helpers/eventually.ts'
import { MapAudit } from '../helpers/map-audit.ts'
import { MinimalWorker } from '../helpers/minimal-worker.ts'
import type { MinimalWorkerOptions } from '../helpers/minimal-worker.ts'
import { StoreClients } from '../helpers/store-clients.ts'

const WORLD: Rect = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
const TTL = 2
const ROUND_MS = 100

/** Load spread evenly over the world: a partition costs its share of `total` ms/s. */
const evenLoad = (total: number) => (_w: string, _p: string, rect: Rect) => (total * area(rect)) / area(WORLD)

describe.each(['memory', 'etcd'] as const)('coordinator on the %s store', (kind) => {
  let etcd: EtcdMember | undefined
  const stores = new StoreClients(kind, () => (etcd as EtcdMember).endpoint)
  let running: { stop(): Promise<void> }[] = []
  let keys: Keys
  let n = 0

  beforeAll(async () => {
    if (kind === 'etcd') etcd = await startEtcd()
  })
  afterAll(async () => {
    await etcd?.stop()
  })
  beforeEach(() => {
    keys = scopedKeys(`/coord-${kind}-${++n}/`)
  })
  afterEach(async () => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined)
    running = []
    await stores.closeAll()
  })

  /** Each component gets its own store client, as separate processes would. */
  function store(): ClusterStore {
    return stores.client()
  }

  async function coordinator(id: string): Promise<Coordinator> {
    const c = new Coordinator(
      store(),
      keys,
      coordinatorOptions({ id, grpcPort: 0, httpPort: 0, rebalanceIntervalMs: ROUND_MS, leaseTtlSeconds: TTL, reportStaleMs: 2_000, logLevel: 'silent' }),
      silentLogger(),
    )
    await c.start()
    running.push(c)
    return c
  }

  async function worker(id: string, options: Partial<MinimalWorkerOptions> = {}): Promise<MinimalWorker> {
    const w = new MinimalWorker(store(), keys, { id, ttlSeconds: TTL, reportIntervalMs: 100, ...options })
    await w.start()
    running.push(w)
    return w
  }

  async function audit(): Promise<MapAudit> {
    const a = new MapAudit(store(), keys)
    await a.start()
    running.push(a)
    return a
  }

  async function createWorld(id: string): Promise<void> {
    await store().put(keys.world(id), JSON.stringify({ id, kind: 'world', bounds: WORLD, labels: {}, createdAt: Date.now() }))
  }

  async function readMap(worldId: string): Promise<PartitionMap | undefined> {
    const kv = await store().get(keys.worldMap(worldId))
    return kv ? decodeMap(kv.value) : undefined
  }

  const owners = (map: PartitionMap | undefined) => new Set(map ? leaves(map).map((l) => l.leaf.owner) : [null])
  const fullyOwnedBy = async (worldId: string, ...ids: string[]) => {
    const o = owners(await readMap(worldId))
    return !o.has(null) && ids.every((id) => o.has(id)) && [...o].every((id) => ids.includes(id as string))
  }

  it('has one leader; a standby takes over within the lease TTL plus a round when the leader dies', async () => {
    const checks = await audit()
    const c1 = await coordinator('c1')
    const c2 = await coordinator('c2')
    await eventually('exactly one leader', () => [c1, c2].filter((c) => c.isLeader).length === 1)
    await createWorld('w1')
    await worker('wa', { loadOf: evenLoad(1200) })
    await worker('wb', { loadOf: evenLoad(1200) })
    // 1,200 ms/s on workers of 1,000 each: the planner must split and use both workers.
    await eventually('w1 split and owned by both workers', () => fullyOwnedBy('w1', 'wa', 'wb'), 15_000)

    const leader = c1.isLeader ? c1 : c2
    const standby = leader === c1 ? c2 : c1
    const started = Date.now()
    await leader.crash()
    await eventually('the standby leads', () => standby.isLeader, (TTL + 3) * 1000, 20)
    expect(Date.now() - started).toBeLessThan(TTL * 1000 + ROUND_MS + 1500)
    expect(standby.leader?.id).toBe(standby === c1 ? 'c1' : 'c2')

    // The new leader plans: take worker wb away and its partitions must come back to wa.
    await eventually('the new leader hears from the workers', () => standby.loads.fresh().length === 2)
    const before = (await readMap('w1'))?.version ?? 0
    await store().delete(keys.worker('wb'))
    await eventually('the new leader reassigned wb\'s partitions', () => fullyOwnedBy('w1', 'wa'), 10_000)
    expect((await readMap('w1'))?.version).toBeGreaterThan(before)
    expect(checks.violations).toEqual([])
  })

  it('gives away every partition of a worker whose lease ends, within the TTL plus a round', async () => {
    const checks = await audit()
    const c = await coordinator('c1')
    await createWorld('w1')
    const wa = await worker('wa', { loadOf: evenLoad(1200) })
    await worker('wb', { loadOf: evenLoad(1200) })
    await eventually('w1 owned by both workers', () => fullyOwnedBy('w1', 'wa', 'wb'), 15_000)

    const started = Date.now()
    await wa.crash()
    await eventually('wa\'s partitions moved to wb', () => fullyOwnedBy('w1', 'wb'), (TTL + 5) * 1000, 20)
    expect(Date.now() - started).toBeLessThan(TTL * 1000 + 2 * ROUND_MS + 1500)
    const orphaned = c.events.recent().filter((e) => e.type === 'decision' && e.details?.['cause'] === 'orphan')
    expect(orphaned.length).toBeGreaterThan(0)
    expect(c.events.recent().some((e) => e.type === 'membership' && e.workerId === 'wa' && /left/.test(e.message))).toBe(true)
    expect(checks.violations).toEqual([])
  })

  it('rebuilds wiped partition maps from what the workers report they own', async () => {
    const c = await coordinator('c1')
    await createWorld('w1')
    await worker('wa', { loadOf: evenLoad(1200), keepOrphansMs: 20_000 })
    await worker('wb', { loadOf: evenLoad(1200), keepOrphansMs: 20_000 })
    await eventually('w1 owned by both workers', () => fullyOwnedBy('w1', 'wa', 'wb'), 15_000)
    await c.operator.pauseRebalancing()
    await eventually('the map settles', async () => {
      const a = await readMap('w1')
      await new Promise((r) => setTimeout(r, 4 * ROUND_MS))
      return a?.version === (await readMap('w1'))?.version
    })
    const snapshot = (m: PartitionMap | undefined) =>
      (m ? leaves(m) : []).map(({ leaf, rect }) => `${leaf.id} ${leaf.owner} e${leaf.epoch} ${JSON.stringify(rect)}`).sort()
    const before = snapshot(await readMap('w1'))
    expect(before.length).toBeGreaterThan(1)

    expect(await store().deletePrefix(keys.worlds())).toBe(2)
    await eventually('the map is back', () => readMap('w1'), 10_000)
    expect(snapshot(await readMap('w1'))).toEqual(before)
    expect((await store().get(keys.world('w1')))?.value).toContain('"kind":"world"')
    expect(c.events.recent().some((e) => e.type === 'map' && /rebuilt/.test(e.message))).toBe(true)
  })

  it('does not bring back a world deleted on purpose', async () => {
    const c = await coordinator('c1')
    await createWorld('gone')
    await worker('wa', { keepOrphansMs: 20_000 })
    await eventually('gone is owned', () => fullyOwnedBy('gone', 'wa'), 10_000)
    const lease = await store().grantLease(30)
    await store().txn({
      compare: [],
      success: [
        { type: 'deletePrefix', prefix: keys.world('gone') },
        { type: 'put', key: keys.tombstone('gone'), value: 'deleted', lease: lease.id },
      ],
    })
    await new Promise((r) => setTimeout(r, 6 * ROUND_MS))
    expect(await readMap('gone')).toBeUndefined()
    expect(c.view.world('gone')).toBeUndefined()
    await lease.revoke()
  })

  it('takes drain, split, merge, pin and pause from operators over HTTP and tessera ctl', async () => {
    const c = await coordinator('c1')
    await createWorld('w1')
    await worker('wa', { loadOf: evenLoad(50) })
    await worker('wb', { loadOf: evenLoad(50) })
    await eventually('w1 owned', async () => !owners(await readMap('w1')).has(null))
    const url = c.addresses.api
    const out: string[] = []
    const ctl = async (...argv: string[]) => {
      out.length = 0
      const code = await runCtl([...argv, '--url', url], { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) }, env: {} })
      return { code, text: out.join('') }
    }
    // Pause first: with the planner idle, every change below is the operator's.
    expect((await ctl('pause')).code).toBe(0)
    await eventually('paused', () => c.rebalancer.paused)

    const cluster = (await (await fetch(`${url}/api/v1/cluster`)).json()) as ClusterSummary
    expect(cluster.workers.map((w) => w.id)).toEqual(['wa', 'wb'])
    expect(cluster.paused).toBe(true)

    const root = (await readMap('w1'))?.root
    expect(root?.kind).toBe('leaf')
    expect((await ctl('split', `w1:${root?.id}`)).code).toBe(0)
    await eventually('two partitions', async () => leaves((await readMap('w1')) as PartitionMap).length === 2)
    const detail = (await (await fetch(`${url}/api/v1/worlds/w1`)).json()) as WorldDetail
    expect(detail.partitions).toHaveLength(2)
    const [first] = detail.partitions
    expect(first?.mergeableWith).toBeTruthy()

    const merged = await ctl('merge', first?.id as string, '--json')
    expect(merged.code).toBe(0)
    expect(JSON.parse(merged.text)).toMatchObject({ ok: true })
    await eventually('one partition again', async () => leaves((await readMap('w1')) as PartitionMap).length === 1)

    const leafId = (await readMap('w1'))?.root.id as string
    const pin = await fetch(`${url}/api/v1/partitions/w1:${leafId}/pin`, { method: 'POST' })
    expect(pin.status).toBe(200)
    await eventually('pinned', async () => ((await readMap('w1'))?.root as { pinned?: boolean }).pinned === true)
    expect((await ctl('split', `w1:${leafId}`)).code).not.toBe(0)
    expect((await ctl('unpin', `w1:${leafId}`)).code).toBe(0)

    const owner = [...owners(await readMap('w1'))][0] as string
    const other = owner === 'wa' ? 'wb' : 'wa'
    expect((await ctl('drain', owner)).code).toBe(0)
    await eventually(`${owner} drained to ${other}`, () => fullyOwnedBy('w1', other), 10_000)
    const workers = await ctl('workers', '--json')
    expect((JSON.parse(workers.text) as ClusterSummary['workers']).find((w) => w.id === owner)?.draining).toBe(true)

    expect((await ctl('resume')).code).toBe(0)
    await eventually('resumed', () => !c.rebalancer.paused)
    expect((await ctl('split', 'w1:nope')).code).not.toBe(0)
    expect((await fetch(`${url}/api/v1/partitions/nonsense/split`, { method: 'POST' })).status).toBe(400)
  })
})
