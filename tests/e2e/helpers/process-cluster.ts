/**
 * A cluster as production runs it, for end-to-end tests: a throwaway etcd member, then `tessera
 * coordinator`, `tessera worker`s and `tessera gateway` as separate processes sharing one ticket key
 * pair (the gateway signs joins; workers sign the tickets of players handed to them). Ends every
 * process it started.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EtcdStore } from '../../../core/store/index.ts'
import { scopedKeys } from '../../../core/store/keys.ts'
import type { Keys } from '../../../core/store/keys.ts'
import { exportPrivateKeyPem, exportPublicKeyPem, generateTicketKeys } from '../../../core/tickets.ts'
import type { DebugEntities } from '../../../worker/debug-entities.ts'
import { startEtcd } from '../../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../../scripts/lib/etcd.ts'
import { startTessera } from '../../helpers/tessera-process.ts'
import type { TesseraProcess } from '../../helpers/tessera-process.ts'

export interface ProcessClusterOptions {
  workers: readonly string[]
  /** NPC walkers per world (each partition starts with its share by area). */
  npcs: number
  /** Extra flags for every worker. */
  workerFlags?: readonly string[]
  /** Extra flags for the coordinator (they come last, so they win over the defaults here). */
  coordinatorFlags?: readonly string[]
}

export class ProcessCluster {
  readonly keys: Keys = scopedKeys('/e2e/')
  etcd!: EtcdMember
  store!: EtcdStore
  coordinator!: TesseraProcess
  gateway!: TesseraProcess
  readonly workers = new Map<string, TesseraProcess>()
  private dir = ''

  async start(options: ProcessClusterOptions): Promise<void> {
    this.etcd = await startEtcd()
    this.store = new EtcdStore({ endpoints: [this.etcd.endpoint] })
    this.dir = await mkdtemp(join(tmpdir(), 'tessera-e2e-'))
    const pair = await generateTicketKeys()
    const privatePem = join(this.dir, 'ticket.pem')
    const publicPem = join(this.dir, 'ticket.pub.pem')
    await writeFile(privatePem, await exportPrivateKeyPem(pair.privateKey))
    await writeFile(publicPem, await exportPublicKeyPem(pair.publicKey))
    const common = ['--etcd-endpoints', this.etcd.endpoint, '--key-prefix', this.keys.prefix, '--log-level', 'warn']
    this.coordinator = await startTessera(['coordinator', '--id', 'c1', '--grpc-port', '0', '--http-port', '0', '--rebalance-interval-ms', '250', ...common, ...(options.coordinatorFlags ?? [])])
    for (const id of options.workers) {
      this.workers.set(id, await startTessera([
        'worker', '--id', id, '--port', '0', '--npcs', String(options.npcs), '--report-interval-ms', '250',
        '--ticket-public-keys', `k=${publicPem}`, '--ticket-private-key-file', privatePem, '--ticket-key-id', 'k',
        ...common, ...(options.workerFlags ?? []),
      ]))
    }
    this.gateway = await startTessera(['gateway', '--id', 'g1', '--port', '0', '--ticket-private-key-file', privatePem, '--ticket-key-id', 'k', ...common])
  }

  /** POSTs an operator action (`/api/v1/...`) to the coordinator; throws unless it succeeded. */
  async operator(path: string): Promise<string> {
    const res = await fetch(`${this.coordinator.info['api']}/api/v1/${path}`, { method: 'POST' })
    const body = await res.text()
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${body}`)
    return body
  }

  /** A worker's `/debug/entities`, or undefined once its process has ended (it holds nothing then). */
  async entities(workerId: string): Promise<DebugEntities | undefined> {
    const p = this.workers.get(workerId)
    if (!p) throw new Error(`no worker ${workerId}`)
    if (p.child.exitCode !== null || p.child.signalCode !== null) return undefined
    const res = await fetch(`${p.info['ops']}/debug/entities`, { signal: AbortSignal.timeout(5_000) })
    if (!res.ok) throw new Error(`${workerId} /debug/entities: ${res.status}`)
    return (await res.json()) as DebugEntities
  }

  /** One value of a worker's `/metrics` (the first series of that name). */
  async metric(workerId: string, name: string): Promise<number> {
    const p = this.workers.get(workerId)
    if (!p) throw new Error(`no worker ${workerId}`)
    const text = await (await fetch(`${p.info['ops']}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    return Number(line?.split(' ').pop() ?? NaN)
  }

  /**
   * Stops everything: the gateway and the coordinator first, so the workers' SIGTERM drains find
   * no leader and stop at once, then the workers, the store client and etcd.
   */
  async stop(): Promise<void> {
    for (const p of [this.gateway, this.coordinator]) await p?.kill('SIGTERM').catch(() => undefined)
    await Promise.all([...this.workers.values()].map((p) => p.kill('SIGTERM').catch(() => undefined)))
    await this.store?.close()
    await this.etcd?.stop()
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
  }
}
