/**
 * Store clients for a suite that runs on both stores: on memory, one shared `MemoryStore` (the one
 * process's truth); on etcd, one `EtcdStore` client per component, as separate processes have.
 */
import { EtcdStore, MemoryStore } from '../../core/store/index.ts'
import type { ClusterStore } from '../../core/store/types.ts'

export class StoreClients {
  private shared: MemoryStore | undefined
  private readonly clients: ClusterStore[] = []

  /** @param endpoint the etcd member's client URL (asked only on the etcd store, when a client is made) */
  constructor(
    private readonly kind: 'memory' | 'etcd',
    private readonly endpoint: () => string,
  ) {}

  client(): ClusterStore {
    if (this.kind === 'memory') return (this.shared ??= new MemoryStore())
    const s = new EtcdStore({ endpoints: [this.endpoint()] })
    this.clients.push(s)
    return s
  }

  /** Close every client made so far (the memory store too: the next test starts empty). */
  async closeAll(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.close()
    await this.shared?.close()
    this.shared = undefined
  }
}
