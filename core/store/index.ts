/**
 * The cluster store: one interface (`types.ts`), two implementations (etcd, memory), leader
 * election on top of either, the key layout, and the store's errors.
 */
import type { Logger } from '../log.ts'
import { EtcdStore } from './etcd.ts'
import { MemoryStore } from './memory.ts'
import type { ClusterStore } from './types.ts'

export type * from './types.ts'
export * from './errors.ts'
export { MemoryStore, systemClock } from './memory.ts'
export type { MemoryStoreOptions, StoreClock } from './memory.ts'
export { EtcdStore } from './etcd.ts'
export type { EtcdStoreOptions } from './etcd.ts'
export { Election } from './election.ts'
export type { Leadership, Observation } from './election.ts'
export { DEFAULT_KEY_PREFIX, Keys, scopedKeys } from './keys.ts'

/** Which store to run on: in-process (embedded mode, tests) or an etcd cluster. */
export type StoreConfig =
  | { kind: 'memory' }
  | {
      kind: 'etcd'
      /** Client URLs of the etcd members, e.g. `http://127.0.0.1:2379`. */
      endpoints: string[]
      /** Deadline of each call, in ms. Default 2000. */
      callTimeoutMs?: number
    }

/** Build the configured store. `logger` is optional (a component child logger is typical). */
export function createStore(config: StoreConfig, logger?: Logger): ClusterStore {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore({ logger })
    case 'etcd':
      return new EtcdStore({ endpoints: config.endpoints, callTimeoutMs: config.callTimeoutMs, logger })
  }
}
