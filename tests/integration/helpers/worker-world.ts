/**
 * Workers (wA and wB, or those named) in this process on a memory store, sharing one client
 * transport and one ticket key, with a world `w` (200 × 100) cut by default at x = 100 into p1
 * (low, wA's) and p2 (high, wB's): the fixture of the tests that move entities, players or whole
 * partitions between workers.
 */
import type { z } from 'zod'
import { TesseraClient } from '../../../client/index.ts'
import type { TesseraClientOptions } from '../../../client/index.ts'
import { installNodeWebRTC } from '../../../client/polyfill-node.ts'
import { silentLogger } from '../../../core/log.ts'
import { encodeMap, leaves, neighbours } from '../../../core/partition-map.ts'
import type { PartitionMap } from '../../../core/partition-map.ts'
import { MemoryStore } from '../../../core/store/index.ts'
import { scopedKeys } from '../../../core/store/keys.ts'
import { generateTicketKeys, issueTicket } from '../../../core/tickets.ts'
import type { TicketClaims } from '../../../core/tickets.ts'
import type { Game } from '../../../worker/game/types.ts'
import { workerOptions } from '../../../worker/options.ts'
import type { workerOptionsSchema } from '../../../worker/options.ts'
import { ticketAdmission } from '../../../worker/ticket-admission.ts'
import { ClientTransport } from '../../../worker/transport/geckos-server.ts'
import type { ClientTransportOptions } from '../../../worker/transport/geckos-server.ts'
import { Worker } from '../../../worker/worker.ts'
import { eventually } from '../../helpers/eventually.ts'
import { BOUNDS, splitMap } from '../../helpers/test-maps.ts'


export { BOUNDS, eastHalvesMap, splitMap } from '../../helpers/test-maps.ts'

type WorkerOptionsInput = z.input<typeof workerOptionsSchema>

export interface WorkerWorldOptions<S, M> {
  game: () => Game<S, M>
  /** The workers' ids. Default wA and wB. */
  ids?: readonly string[]
  /** Worker options besides the fixture's own (ids, ports, silent logs; no NPCs unless given). */
  worker?: WorkerOptionsInput
  /** Options of one worker (by id) over `worker`'s. */
  perWorker?: Record<string, WorkerOptionsInput>
  /** Transport options besides `authorize`. */
  transport?: Omit<ClientTransportOptions<TicketClaims>, 'authorize'>
  /** Wait this long between starting one worker and the next (default 0). */
  startGapMs?: number
}

export class WorkerWorld<S, M> {
  readonly store = new MemoryStore()
  readonly keys: ReturnType<typeof scopedKeys>
  private transportValue: ClientTransport<TicketClaims> | undefined
  private privateKey: CryptoKey | undefined
  private readonly workers: Worker<S, M>[] = []
  private readonly clients: TesseraClient[] = []

  constructor(
    prefix: string,
    private readonly options: WorkerWorldOptions<S, M>,
  ) {
    this.keys = scopedKeys(prefix)
  }

  get wA(): Worker<S, M> {
    return this.workers[0] as Worker<S, M>
  }

  get wB(): Worker<S, M> {
    return this.workers[1] as Worker<S, M>
  }

  /** The worker of that id. */
  worker(id: string): Worker<S, M> {
    const w = this.workers.find((x) => x.id === id)
    if (!w) throw new Error(`no worker ${id}`)
    return w
  }

  get transport(): ClientTransport<TicketClaims> {
    return this.transportValue as ClientTransport<TicketClaims>
  }

  /** The key the workers' tickets are signed with (kid `k`), to issue players' tickets. */
  get ticketKey(): CryptoKey {
    return this.privateKey as CryptoKey
  }

  /** Starts the workers, each able to sign migrate tickets. */
  async start(): Promise<void> {
    const pair = await generateTicketKeys()
    const ids = this.options.ids ?? ['wA', 'wB']
    this.privateKey = pair.privateKey
    this.transportValue = await ClientTransport.start<TicketClaims>({
      ...this.options.transport,
      authorize: ticketAdmission(() => new Map([['k', pair.publicKey]]), (id) => ids.includes(id)),
    })
    for (const id of ids) {
      if (this.workers.length > 0 && this.options.startGapMs) await new Promise((r) => setTimeout(r, this.options.startGapMs))
      const w = new Worker<S, M>({
        store: this.store, keys: this.keys, transport: this.transportValue, logger: silentLogger(), game: this.options.game,
        ticketSigner: { privateKey: pair.privateKey, kid: 'k' },
        options: workerOptions({ npcs: 0, ...this.options.worker, ...this.options.perWorker?.[id], id, port: 0, grpcPort: 0, opsPort: 0, logLevel: 'silent' }),
      })
      await w.start()
      this.workers.push(w)
    }
  }

  /**
   * Writes `w` (by default p1 on wA, p2 on wB) and waits until every partition runs on its owner
   * and the owners of neighbouring partitions are linked both ways.
   */
  async createWorld(map: PartitionMap = splitMap('wA', 1)): Promise<void> {
    await this.store.put(this.keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await this.store.put(this.keys.worldMap('w'), encodeMap(map))
    const parts = leaves(map).map(({ leaf }) => ({ owner: leaf.owner as string, id: leaf.id }))
    await eventually('every partition simulated', () => parts.every((p) => this.worker(p.owner).partitions().includes(`w:${p.id}`)))
    const pairs = parts.flatMap((p) => neighbours(map, p.id).filter((n) => n.owner && n.owner !== p.owner).map((n) => [p.owner, n.owner as string]))
    await eventually('neighbours linked', () => pairs.every(([a, b]) => this.worker(a as string).links.connected().includes(b as string)))
  }

  /** A player library client (WebRTC in Node), closed when the world stops. */
  client(options: TesseraClientOptions = {}): TesseraClient {
    installNodeWebRTC()
    const client = new TesseraClient(options)
    this.clients.push(client)
    return client
  }

  /** A ticket for `playerId` to `w` (p1 on wA unless given), signed with the workers' key. */
  ticket(playerId: string, at: { workerId?: string; partitionId?: string } = {}): Promise<string> {
    return issueTicket(this.ticketKey, { playerId, worldId: 'w', workerId: at.workerId ?? 'wA', partitionId: at.partitionId ?? 'p1', kid: 'k' })
  }

  /** Moves p1 to wB (epoch 2). */
  async moveP1ToB(): Promise<void> {
    await this.store.put(this.keys.worldMap('w'), encodeMap(splitMap('wB', 2)))
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close()
    for (const w of this.workers) await w.stop()
    await this.transportValue?.close()
    await this.store.close()
  }
}
