/**
 * `tessera gateway` as a process: options from flags, the ticket key from a PEM file, the leader
 * found through etcd; a room created over HTTP carries a ticket the matching public key verifies,
 * and SIGTERM stops the process cleanly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RoomGrant } from '../../core/api/gateway.ts'
import { EtcdStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { exportPrivateKeyPem, generateTicketKeys, verifyTicket } from '../../core/tickets.ts'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { MinimalWorker } from '../helpers/minimal-worker.ts'
import { startTessera } from '../helpers/tessera-process.ts'
import type { TesseraProcess } from '../helpers/tessera-process.ts'

describe('tessera gateway process', () => {
  let etcd: EtcdMember
  let store: EtcdStore
  let dir: string
  const keys = scopedKeys('/gwproc/')
  const procs: TesseraProcess[] = []
  let worker: MinimalWorker

  beforeAll(async () => {
    etcd = await startEtcd()
    store = new EtcdStore({ endpoints: [etcd.endpoint] })
    dir = await mkdtemp(join(tmpdir(), 'tessera-gw-'))
  })
  afterAll(async () => {
    for (const p of procs) await p.kill().catch(() => undefined)
    await worker?.stop()
    await store?.close()
    await etcd?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves rooms with tickets signed by the configured key and stops on SIGTERM', async () => {
    const pair = await generateTicketKeys()
    const keyFile = join(dir, 'ticket.pem')
    await writeFile(keyFile, await exportPrivateKeyPem(pair.privateKey))
    const common = ['--etcd-endpoints', etcd.endpoint, '--key-prefix', keys.prefix, '--log-level', 'warn']
    procs.push(await startTessera(['coordinator', '--id', 'c1', '--grpc-port', '0', '--http-port', '0', '--rebalance-interval-ms', '100', ...common]))
    worker = new MinimalWorker(store, keys, { id: 'w1', ttlSeconds: 2, reportIntervalMs: 100 })
    await worker.start()
    const gw = await startTessera(['gateway', '--id', 'g1', '--port', '0', '--ticket-private-key-file', keyFile, '--ticket-key-id', 'prod', ...common])
    procs.push(gw)
    expect(gw.info).toMatchObject({ ready: 'gateway', id: 'g1', kid: 'prod' })
    expect(gw.info.ticketPublicKey).toBeUndefined()

    let created: RoomGrant | undefined
    const deadline = Date.now() + 10_000
    while (!created && Date.now() < deadline) {
      const res = await fetch(`${gw.info.url}/v1/rooms`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-player-id': 'alice' }, body: JSON.stringify({ mode: 'duel', maxPlayers: 2 }) })
      if (res.status === 201) created = (await res.json()) as RoomGrant
      else await new Promise((r) => setTimeout(r, 100)) // the leader is still being elected
    }
    expect(created?.workerId).toBe('w1')
    const claims = await verifyTicket(new Map([['prod', pair.publicKey]]), created?.ticket ?? '', { workerId: 'w1' })
    expect(claims).toMatchObject({ playerId: 'alice', roomId: created?.roomId })
    expect(await gw.kill('SIGTERM')).toBe(0)
  })
})
