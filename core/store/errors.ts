/**
 * Errors of the cluster store. Both implementations throw only these, so callers handle one set of
 * classes: `code` is stable (logs, metrics, API answers) and `retryable` says whether the same call
 * may succeed later without the caller changing anything.
 *
 * etcd3 and gRPC errors are translated in exactly one place, `castEtcdError`.
 */
import {
  ClientClosedError,
  EtcdError,
  EtcdLeaseInvalidError,
  EtcdWatchStreamEnded,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCGenericError,
  GRPCInternalError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
  isRecoverableError,
} from 'etcd3'

export type StoreErrorCode =
  | 'not_found'
  | 'conflict'
  | 'lease_expired'
  | 'unavailable'
  | 'closed'
  | 'compacted'
  | 'aborted'
  | 'internal'

export interface StoreErrorOptions {
  cause?: unknown
}

/** Base class of every error the cluster store throws. */
export class StoreError extends Error {
  /** Stable machine-readable code. */
  readonly code: StoreErrorCode
  /** Whether retrying the same call later may succeed. */
  readonly retryable: boolean

  constructor(code: StoreErrorCode, message: string, retryable = false, options: StoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = retryable
  }
}

/** A key (or other named thing) that must exist does not. */
export class NotFoundError extends StoreError {
  constructor(message: string, options?: StoreErrorOptions) {
    super('not_found', message, false, options)
  }
}

/** A compare-and-swap lost: someone else changed the key first. Re-read, then decide. */
export class ConflictError extends StoreError {
  constructor(message: string, options?: StoreErrorOptions) {
    super('conflict', message, false, options)
  }
}

/** The lease is gone (expired, revoked, or never existed): keys cannot be attached to it. */
export class LeaseExpiredError extends StoreError {
  constructor(message: string, options?: StoreErrorOptions) {
    super('lease_expired', message, false, options)
  }
}

/** The store cannot be reached or did not answer in time. Transient: retry later. */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, options?: StoreErrorOptions) {
    super('unavailable', message, true, options)
  }
}

/** The store was closed by its owner; nothing more will succeed on this instance. */
export class StoreClosedError extends StoreError {
  constructor(message = 'the cluster store is closed', options?: StoreErrorOptions) {
    super('closed', message, false, options)
  }
}

/** A watch asked for history that the store has already discarded. Re-read, then watch again. */
export class CompactedError extends StoreError {
  /** The oldest revision still available, when known. */
  readonly compactRevision: number | undefined

  constructor(message: string, compactRevision?: number, options?: StoreErrorOptions) {
    super('compacted', message, false, options)
    this.compactRevision = compactRevision
  }
}

/** The caller gave up (AbortSignal) before the operation finished. */
export class StoreAbortedError extends StoreError {
  constructor(message = 'the operation was aborted', options?: StoreErrorOptions) {
    super('aborted', message, false, options)
  }
}

/** Whether `err` is a transient store failure worth retrying. */
export function isRetryableStoreError(err: unknown): boolean {
  return err instanceof StoreError && err.retryable
}

// cockatiel (etcd3's fault-handling library) is not a direct dependency: recognise its errors by
// name rather than importing it.
const cockatielRejections = new Set(['BrokenCircuitError', 'BulkheadRejectedError', 'IsolatedCircuitError', 'TaskCancelledError'])

// etcd answers some transient conditions with a plain "etcdserver: ..." message.
const transientEtcdMessages = [
  'etcdserver: request timed out',
  'etcdserver: leader changed',
  'etcdserver: no leader',
  'etcdserver: not capable',
  'etcdserver: too many requests',
  'etcdserver: server stopped',
  'etcdserver: request cancelled',
]

// Node socket errors seen when a connection attempt fails before gRPC wraps it.
const connectionErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'])

/**
 * Translate anything etcd3, gRPC or cockatiel throws into a `StoreError`. Errors that already are
 * `StoreError`s pass through unchanged; anything unrecognised becomes a non-retryable 'internal'.
 */
export function castEtcdError(err: unknown): StoreError {
  if (err instanceof StoreError) return err
  if (!(err instanceof Error)) return new StoreError('internal', `etcd failed: ${String(err)}`, false, { cause: err })
  const message = err.message
  const options = { cause: err }

  if (err instanceof EtcdLeaseInvalidError || message.includes('requested lease not found')) {
    return new LeaseExpiredError(`lease not found: ${message}`, options)
  }
  if (message.includes('required revision has been compacted')) {
    return new CompactedError(`watch history compacted: ${message}`, undefined, options)
  }
  if (err instanceof ClientClosedError) return new StoreClosedError(`etcd client closed: ${message}`, options)
  if (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof GRPCResourceExhastedError ||
    err instanceof EtcdWatchStreamEnded ||
    cockatielRejections.has(err.name) ||
    cockatielRejections.has(err.constructor.name) ||
    transientEtcdMessages.some((m) => message.includes(m)) ||
    hasConnectionCode(err) ||
    grpcCode(err) === 14 ||
    grpcCode(err) === 4 ||
    isRecoverableError(err)
  ) {
    return new StoreUnavailableError(`etcd unavailable: ${message}`, options)
  }
  if (err instanceof GRPCInternalError && message.includes('Received RST_STREAM')) {
    // A stream reset by a dying server: the same as losing the connection.
    return new StoreUnavailableError(`etcd unavailable: ${message}`, options)
  }
  if (err instanceof EtcdError || err instanceof GRPCGenericError) {
    return new StoreError('internal', `etcd error: ${message}`, false, options)
  }
  return new StoreError('internal', `etcd call failed: ${message}`, false, options)
}

function hasConnectionCode(err: Error): boolean {
  const code = (err as Error & { code?: unknown }).code
  return typeof code === 'string' && connectionErrorCodes.has(code)
}

function grpcCode(err: Error): number | undefined {
  const code = (err as Error & { code?: unknown }).code
  return typeof code === 'number' ? code : undefined
}
