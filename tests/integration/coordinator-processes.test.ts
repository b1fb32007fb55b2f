/**
 * Two coordinator processes on a real etcd member, two workers streaming load over gRPC: killing the
 * leading process with SIGKILL makes the other lead; the partition maps stay valid throughout, no
 * epoch goes backwards, and the new leader keeps the cluster's partitions owned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterSummary } from '../../core/api/types.ts'
import { area } from '../../core/geometry.ts'
import type { Rect } from '../../core/geometry.ts'
import { decodeMap, leaves } from '../../core/partition-map.ts'
import { EtcdStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { eventually } from '../helpers/eventually.ts'
import { MapAudit } from '../helpers/map-audit.ts'
import { MinimalWorker } from '../helpers/minimal-worker.ts'
import { startTessera } from '../helpers/tessera-process.ts'
import type { TesseraProcess } from '../helpers/tessera-process.ts'

const WORLD: Rect = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
const TTL = 2

describe('coordinator processes on etcd', () => {
  let etcd: EtcdMember
  let store: EtcdStore
  const keys = scopedKeys('/procs/')
  const procs: TesseraProcess[] = []
  const workers: MinimalWorker[] = []
  let audit: MapAudit

  beforeAll(async () => {
    etcd = await startEtcd()
    store = new EtcdStore({ endpoints: [etcd.endpoint] })
    audit = new MapAudit(store, keys)
    await audit.start()
  })

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined)
    for (const p of procs) await p.kill('SIGTERM')
    await audit.stop()
    await store.close()
    await etcd.stop()
  })

  const cluster = async (p: TesseraProcess) => (await (await fetch(`${p.info['api']}/api/v1/cluster`)).json()) as ClusterSummary
  const map = async () => {
    const kv = await store.get(keys.worldMap('w1'))
    return kv ? decodeMap(kv.value) : undefined
  }

  it('fails over to the standby when the leader is killed, keeping every partition owned once', async () => {
    for (const id of ['c1', 'c2']) {
      procs.push(
        await startTessera([
          'coordinator', '--id', id, '--etcd-endpoints', etcd.endpoint, '--key-prefix', keys.prefix,
          '--grpc-port', '0', '--http-port', '0', '--lease-ttl-seconds', String(TTL), '--rebalance-interval-ms', '100',
          '--log-level', 'warn',
        ]),
      )
    }
    await store.put(keys.world('w1'), JSON.stringify({ id: 'w1', kind: 'world', bounds: WORLD, labels: {}, createdAt: Date.now() }))
    for (const id of ['wa', 'wb']) {
      const w = new MinimalWorker(store, keys, { id, ttlSeconds: TTL, reportIntervalMs: 100, loadOf: (_w, _p, r) => (1200 * area(r)) / area(WORLD) })
      await w.start()
      workers.push(w)
    }
    const owned = async (...ids: string[]) => {
      const m = await map()
      const o = new Set(m ? leaves(m).map((l) => l.leaf.owner) : [null])
      return !o.has(null) && [...o].every((x) => ids.includes(x as string)) && ids.every((x) => o.has(x))
    }
    await eventually('w1 split over both workers', () => owned('wa', 'wb'), 20_000)

    const states = await Promise.all(procs.map(cluster))
    expect(states.filter((s) => s.self.leading)).toHaveLength(1)
    const leaderIndex = states.findIndex((s) => s.self.leading)
    const leader = procs[leaderIndex] as TesseraProcess
    const standby = procs[1 - leaderIndex] as TesseraProcess

    const killedAt = Date.now()
    expect(await leader.kill('SIGKILL')).toBe('SIGKILL')
    await eventually('the standby leads', async () => (await cluster(standby)).self.leading, 15_000, 50)
    const failoverMs = Date.now() - killedAt
    expect(failoverMs).toBeLessThan(TTL * 1000 + 100 + 2_000)

    // The new leader acts on the cluster: a worker crash is repaired by it, not by the dead one.
    await (workers[1] as MinimalWorker).crash()
    await eventually('the new leader moved wb\'s partitions to wa', () => owned('wa'), 20_000)
    const summary = await cluster(standby)
    expect(summary.leader?.id).toBe(summary.self.id)
    expect(audit.violations).toEqual([])
    expect(audit.versionsSeen.get('w1')).toBeGreaterThan(2)
  })
})
