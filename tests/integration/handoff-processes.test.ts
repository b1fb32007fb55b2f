/**
 * Two `tessera worker` processes on a real etcd member, one world cut in two between them, demo
 * walkers strolling across the border: the workers link up over gRPC, hand walkers to each other
 * both ways, and the world's entity count is conserved. Counts are read from each process's
 * /metrics, one process after the other, so a handoff landing between the two reads can show one
 * entity twice or not at all; the test allows that much and requires the exact count whenever the
 * reads agree, and at the end.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Rect } from '../../core/geometry.ts'
import { encodeMap } from '../../core/partition-map.ts'
import { EtcdStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { exportPublicKeyPem, generateTicketKeys } from '../../core/tickets.ts'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTessera } from '../helpers/tessera-process.ts'
import type { TesseraProcess } from '../helpers/tessera-process.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 80, maxY: 40 }
const NPCS = 60

describe('handoff between worker processes', () => {
  let etcd: EtcdMember
  let store: EtcdStore
  let dir: string
  const keys = scopedKeys('/handoff-procs/')
  const procs: TesseraProcess[] = []

  beforeAll(async () => {
    etcd = await startEtcd()
    store = new EtcdStore({ endpoints: [etcd.endpoint] })
    dir = await mkdtemp(join(tmpdir(), 'tessera-handoff-'))
  })

  afterAll(async () => {
    for (const p of procs) await p.kill('SIGTERM')
    await store.close()
    await etcd.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const metric = async (p: TesseraProcess, name: string): Promise<number> => {
    const text = await (await fetch(`${p.info['ops']}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    return Number(line?.split(' ').pop() ?? NaN)
  }

  it('hands walkers back and forth between processes and loses none', async () => {
    const { publicKey } = await generateTicketKeys()
    const pem = join(dir, 'ticket.pub.pem')
    await writeFile(pem, await exportPublicKeyPem(publicKey))
    for (const id of ['wa', 'wb']) {
      procs.push(
        await startTessera([
          'worker', '--id', id, '--etcd-endpoints', etcd.endpoint, '--key-prefix', keys.prefix, '--port', '0',
          '--npcs', String(NPCS), '--ticket-public-keys', `k=${pem}`, '--log-level', 'warn', '--report-interval-ms', '200',
        ]),
      )
    }
    await store.put(keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await store.put(keys.worldMap('w'), encodeMap({
      worldId: 'w', bounds: BOUNDS, version: 1, nextId: 3,
      root: {
        kind: 'split', id: 'p0', axis: 'x', at: 40,
        low: { kind: 'leaf', id: 'p1', owner: 'wa', epoch: 1 },
        high: { kind: 'leaf', id: 'p2', owner: 'wb', epoch: 1 },
      },
    }))
    const [a, b] = procs as [TesseraProcess, TesseraProcess]
    await eventually('linked', async () => (await metric(a, 'tessera_worker_neighbour_links')) === 1 && (await metric(b, 'tessera_worker_neighbour_links')) === 1, 15_000)

    let samples = 0
    let exact = 0
    const until = Date.now() + 12_000
    while (Date.now() < until) {
      const total = (await metric(a, 'tessera_worker_entities')) + (await metric(b, 'tessera_worker_entities'))
      samples++
      if (total === NPCS) exact++
      // Each read is at most one tick stale, and a tick hands off few walkers: never more than a few off.
      expect(Math.abs(total - NPCS)).toBeLessThanOrEqual(4)
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(exact / samples).toBeGreaterThan(0.5)
    expect(await metric(a, 'tessera_worker_handoffs_in')).toBeGreaterThan(0)
    expect(await metric(b, 'tessera_worker_handoffs_in')).toBeGreaterThan(0)
    await eventually('the count is exact', async () =>
      (await metric(a, 'tessera_worker_entities')) + (await metric(b, 'tessera_worker_entities')) === NPCS,
    )
  })
})
