/**
 * The messages carried by the control stream: rare, so JSON, but validated with zod at the edge so
 * the rest of the code sees a typed tagged union.
 */
import { z } from 'zod'
import { DecodeError } from './errors.ts'
import { Protocol, isErrorCodeName } from './protocol.ts'
import type { CloseCodeName, ErrorCodeName } from './protocol.ts'

const K = Protocol.controlKind

const errorCode = z.custom<ErrorCodeName>((v) => typeof v === 'string' && isErrorCodeName(v), 'unknown error code')
const closeCode = z.custom<CloseCodeName>((v) => typeof v === 'string' && Object.hasOwn(Protocol.closeCode, v), 'unknown close code')
const id = z.string().min(1).max(256)

export const controlMessageSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal(K.JOIN_ACCEPTED),
    /** The player's own entity in snapshots. */
    entityId: z.number().int().min(0).max(2 ** 30),
    worldId: id,
    /** Partition (worlds) or null (rooms). */
    partition: id.nullable(),
    /** Server tick at acceptance: the client's tick clock starts here. */
    tick: z.number().int().min(0),
    tickRate: z.number().positive().max(1000),
  }),
  z.object({ kind: z.literal(K.ERROR), code: errorCode, message: z.string().max(1024) }),
  z.object({
    kind: z.literal(K.MIGRATE),
    /** Where to connect next. */
    url: z.string().min(1).max(2048),
    ticket: z.string().min(1).max(3072),
    worldId: id,
  }),
  /**
   * The player's entity is back on the worker of this connection: a pending move (an earlier
   * `migrate`) is void.
   */
  z.object({ kind: z.literal(K.STAY), worldId: id }),
  /**
   * The player's entity is near a border with another worker's ground and may be handed there:
   * open a standby connection to `url` now with this ticket (marked standby: the worker there
   * holds the connection without spawning anything). When the entity is handed over, that worker
   * sends `join-accepted` on it and the client switches without dialling.
   */
  z.object({
    kind: z.literal(K.PREPARE),
    url: z.string().min(1).max(2048),
    ticket: z.string().min(1).max(3072),
    worldId: id,
  }),
  /**
   * The entity walked away from that border: the standby connection to worker `workerId` at `url`
   * can go (workers of one process share a URL).
   */
  z.object({ kind: z.literal(K.UNPREPARE), url: z.string().min(1).max(2048), workerId: id, worldId: id }),
  /**
   * A ticket for this connection's worker, for a reconnection while it lives: sent after a switch
   * on a standby connection (whose standby ticket cannot start a session).
   */
  z.object({ kind: z.literal(K.TICKET), ticket: z.string().min(1).max(3072), worldId: id }),
  /**
   * Client → worker, after its `join-accepted`: this client opens no standby connections (its
   * moves go by `migrate`), so `prepare` is not sent to it and its crossings do not wait for one.
   */
  z.object({ kind: z.literal(K.NO_STANDBY) }),
  z.object({ kind: z.literal(K.KICK), code: closeCode, reason: z.string().max(1024) }),
  z.object({ kind: z.literal(K.BYE), code: closeCode }),
])

export type ControlMessage = z.infer<typeof controlMessageSchema>
export type JoinAccepted = Extract<ControlMessage, { kind: 'join-accepted' }>
export type ControlError = Extract<ControlMessage, { kind: 'error' }>
export type Migrate = Extract<ControlMessage, { kind: 'migrate' }>
export type Prepare = Extract<ControlMessage, { kind: 'prepare' }>

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeControlMessage(msg: ControlMessage): Uint8Array {
  return encoder.encode(JSON.stringify(msg))
}

export function decodeControlMessage(bytes: Uint8Array): ControlMessage | DecodeError {
  if (bytes.length > Protocol.limits.maxControlMessageBytes) return new DecodeError('too_large', `${bytes.length} bytes`)
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    return new DecodeError('invalid', 'control message is not UTF-8 JSON')
  }
  const parsed = controlMessageSchema.safeParse(value)
  if (!parsed.success) return new DecodeError('invalid', parsed.error.issues[0]?.message ?? 'schema mismatch')
  return parsed.data
}
