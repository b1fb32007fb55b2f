/**
 * Two workers (wA, wB) in this process on a memory store, sharing one client transport, with a
 * world `w` cut at x = 100 into p1 (low) and p2 (high, wB's): the fixture of the retiring-partition
 * tests, which move p1 from wA to wB and watch what happens to its entities.
 */
import { silentLogger } from '../../../core/log.ts'
import { encodeMap } from '../../../core/partition-map.ts'
import { MemoryStore } from '../../../core/store/index.ts'
import { scopedKeys } from '../../../core/store/keys.ts'
import { generateTicketKeys } from '../../../core/tickets.ts'
import type { TicketClaims } from '../../../core/tickets.ts'
import { createDemoGame } from '../../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../../worker/game/demo.ts'
import { workerOptions } from '../../../worker/options.ts'
import { ticketAdmission } from '../../../worker/ticket-admission.ts'
import { ClientTransport } from '../../../worker/transport/geckos-server.ts'
import { Worker } from '../../../worker/worker.ts'
import { eventually } from '../../helpers/eventually.ts'
import { BOUNDS, splitMap } from './split-world.ts'

export type DemoWorker = Worker<DemoState, DemoMessage>

export class TwoWorkerWorld {
  readonly store = new MemoryStore()
  readonly keys: ReturnType<typeof scopedKeys>
  private transport: ClientTransport<TicketClaims> | undefined
  private readonly workers: DemoWorker[] = []

  constructor(prefix: string, private readonly retireGraceMs: number) {
    this.keys = scopedKeys(prefix)
  }

  get wA(): DemoWorker {
    return this.workers[0] as DemoWorker
  }

  get wB(): DemoWorker {
    return this.workers[1] as DemoWorker
  }

  /** Starts both workers (walkers standing still, no NPCs of their own). */
  async start(): Promise<void> {
    const { publicKey } = await generateTicketKeys()
    this.transport = await ClientTransport.start<TicketClaims>({ authorize: ticketAdmission(() => new Map([['k', publicKey]]), () => true) })
    for (const id of ['wA', 'wB']) {
      const w: DemoWorker = new Worker<DemoState, DemoMessage>({
        store: this.store, keys: this.keys, transport: this.transport, logger: silentLogger(), game: () => createDemoGame({ walkerSpeed: [0, 0] }),
        options: workerOptions({ id, port: 0, grpcPort: 0, opsPort: 0, npcs: 0, reportIntervalMs: 100, logLevel: 'silent', retireGraceMs: this.retireGraceMs }),
      })
      await w.start()
      this.workers.push(w)
    }
  }

  /** Writes `w` with p1 on wA and waits until both halves run and the pair is linked. */
  async createWorld(): Promise<void> {
    await this.store.put(this.keys.world('w'), JSON.stringify({ id: 'w', kind: 'world', bounds: BOUNDS, labels: {}, createdAt: Date.now() }))
    await this.store.put(this.keys.worldMap('w'), encodeMap(splitMap('wA', 1)))
    await eventually('both partitions simulated', () => this.wA.partitions().includes('w:p1') && this.wB.partitions().includes('w:p2'))
    await eventually('the pair is linked', () => this.wA.links.connected().includes('wB'))
  }

  /** Moves p1 to wB (epoch 2). */
  async moveP1ToB(): Promise<void> {
    await this.store.put(this.keys.worldMap('w'), encodeMap(splitMap('wB', 2)))
  }

  async stop(): Promise<void> {
    for (const w of this.workers) await w.stop()
    await this.transport?.close()
    await this.store.close()
  }
}
