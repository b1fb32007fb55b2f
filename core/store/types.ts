/**
 * The cluster store: the one place Tessera keeps the cluster's truth (membership, worlds, partition
 * maps, rooms, sessions). Two implementations share this interface and one contract test suite:
 * `EtcdStore` (production) and `MemoryStore` (embedded mode and fast tests).
 *
 * Keys are plain strings; the store does not add the cluster prefix (see `scopedKeys`). Values are
 * strings (JSON by convention). Revisions are the store-wide, strictly increasing version counter
 * that etcd calls "revision": every successful write (put, delete, transaction) creates one.
 */

/** An id the store hands out for a lease. Opaque: etcd uses 64-bit integers, kept as strings. */
export type LeaseId = string

export interface KeyValue {
  key: string
  value: string
  /** Revision of the write that created this key (0 never appears for a key that exists). */
  createRevision: number
  /** Revision of the last write to this key. */
  modRevision: number
  /** Number of writes since the key was created (1 after the first put). */
  version: number
  /** Lease the key is attached to, if any. */
  lease?: LeaseId
}

export interface RangeResult {
  kvs: KeyValue[]
  /** Store revision at which the read was served: watch from `revision + 1` to miss nothing. */
  revision: number
}

export interface PutOptions {
  /** Attach the key to this lease: the key is deleted when the lease ends. */
  lease?: LeaseId
}

/** A condition of a transaction. `createRevision == 0` means "the key does not exist". */
export type Compare =
  | { key: string; target: 'value'; op: CompareOp; value: string }
  | { key: string; target: 'version' | 'createRevision' | 'modRevision'; op: CompareOp; value: number }

export type CompareOp = '==' | '!=' | '<' | '>'

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: LeaseId }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string }
  | { type: 'get'; key: string }

export interface TxnRequest {
  compare: Compare[]
  success: TxnOp[]
  failure?: TxnOp[]
}

export interface TxnResult {
  succeeded: boolean
  /** Store revision after the transaction (unchanged when it only read). */
  revision: number
  /** For each `get` op of the branch that ran, in order: the key's value, or undefined. */
  reads: (KeyValue | undefined)[]
}

export type WatchEvent =
  | { type: 'put'; kv: KeyValue; revision: number }
  | { type: 'delete'; key: string; revision: number; prev?: KeyValue }

export interface WatchOptions {
  /** Deliver every event with revision >= this one (history first, then live). Default: live only. */
  fromRevision?: number
  /** Called with each batch of events, in revision order, never twice for one event. */
  onEvents: (events: WatchEvent[]) => void
  /**
   * Called when the watch cannot continue (its start revision was compacted away, the store was
   * closed). Transient disconnections are not errors: the watch resumes where it left off.
   */
  onError?: (err: Error) => void
}

export interface Watch {
  /** Resolves once the watch is established on the store. */
  readonly ready: Promise<void>
  /** Stop the watch. Idempotent. */
  cancel(): Promise<void>
}

export interface Lease {
  readonly id: LeaseId
  readonly ttlSeconds: number
  /**
   * Resolves when the lease is lost: it expired (keep-alives failed for a whole TTL), it was
   * revoked, or the store closed. Keys attached to it are gone (or about to be) by then.
   */
  readonly lost: Promise<void>
  /** Whether `lost` has resolved. */
  readonly isLost: boolean
  /** End the lease now, deleting its keys. Idempotent. */
  revoke(): Promise<void>
  /**
   * Stop renewing without revoking: the keys stay until the store expires the lease one TTL later,
   * exactly as when the process holding it freezes or dies. The holder has given the lease up, so
   * `lost` resolves at once. Idempotent.
   */
  release(): void
}

export interface LeaseOptions {
  /** Renew the lease in the background (every third of the TTL). Default true. */
  keepAlive?: boolean
}

export interface ClusterStore {
  /** Which implementation this is, for logs and test names. */
  readonly kind: 'etcd' | 'memory'

  get(key: string): Promise<KeyValue | undefined>
  /** Every key that starts with `prefix`, in key order. */
  range(prefix: string): Promise<RangeResult>
  /** Returns the revision of the write. */
  put(key: string, value: string, options?: PutOptions): Promise<number>
  /** Returns whether the key existed. */
  delete(key: string): Promise<boolean>
  /** Returns how many keys were deleted. */
  deletePrefix(prefix: string): Promise<number>
  txn(request: TxnRequest): Promise<TxnResult>

  watch(prefix: string, options: WatchOptions): Watch

  grantLease(ttlSeconds: number, options?: LeaseOptions): Promise<Lease>

  /** Stop background work (keep-alives, watches) and release connections. Idempotent. */
  close(): Promise<void>
}
