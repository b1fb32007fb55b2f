/**
 * The one table of wire constants shared by worker, gateway and client: message opcodes (the first
 * byte of every raw datagram), control message kinds, error codes and close codes. Numbers and
 * strings here are part of the protocol: never renumber or rename, only add.
 *
 * Client→server opcodes live below 0x80 and server→client ones at 0x80 and above, so a datagram sent
 * the wrong way round is rejected by its first byte alone. First bytes 0xF0–0xFF belong to the
 * transport's own frames (its heartbeat and close, `transport-frames.ts`) and never reach
 * these decoders.
 */
export const Protocol = {
  /** Version carried in join tickets and hello messages; bump on incompatible layout changes. */
  version: 1,

  clientOp: {
    /** Inputs (several redundant recent ones) plus the last snapshot tick received. */
    INPUT: 0x01,
    /** The last snapshot tick received, alone (when there is no input to send). */
    ACK: 0x02,
    /** A frame of the reliable, ordered control stream. */
    CONTROL: 0x03,
    /** Application heartbeat; answered by PONG. */
    PING: 0x04,
  },

  serverOp: {
    /** A delta-encoded snapshot of the entities in the client's area of interest. */
    SNAPSHOT: 0x81,
    /** A frame of the reliable, ordered control stream. */
    CONTROL: 0x82,
    /** Answer to PING, echoing its nonce and client time, plus the server tick. */
    PONG: 0x83,
  },

  /** `kind` of the JSON messages carried inside control stream frames. */
  controlKind: {
    JOIN_ACCEPTED: 'join-accepted',
    ERROR: 'error',
    MIGRATE: 'migrate',
    STAY: 'stay',
    KICK: 'kick',
    BYE: 'bye',
    PREPARE: 'prepare',
    UNPREPARE: 'unprepare',
    TICKET: 'ticket',
    NO_STANDBY: 'no-standby',
  },

  /** Error codes: stable strings on the wire (control `error` messages, HTTP bodies), stable numbers in metrics and logs. */
  errorCode: {
    bad_ticket: 1,
    expired_ticket: 2,
    wrong_world: 3,
    room_full: 4,
    unknown_room: 5,
    malformed: 6,
    rate_limited: 7,
    too_large: 8,
    internal: 9,
    heartbeat_timeout: 10,
    stale_epoch: 11,
    not_owner: 12,
    unsupported_version: 13,
    shutting_down: 14,
    room_closed: 15,
    already_playing: 16,
    unauthorized: 17,
    no_capacity: 18,
    unknown_world: 19,
    unknown_ticket: 20,
    busy: 21,
    not_found: 22,
    partition_unassigned: 23,
  },

  /** Reasons a server ends a session (sent in `kick`/`bye` and used as close codes); 4000+ like WebSocket application codes. */
  closeCode: {
    normal: 4000,
    going_away: 4001,
    kicked: 4002,
    migrated: 4003,
    heartbeat_timeout: 4004,
    protocol_error: 4005,
    auth_failed: 4006,
    replaced: 4007,
  },

  /** Lowest first byte reserved for transport frames; no game opcode may be at or above it. */
  transportReservedMin: 0xf0,

  limits: {
    /** Largest datagram either side accepts; bigger ones are dropped as `too_large` before decoding. */
    maxDatagramBytes: 16_384,
    /** Redundant inputs carried per INPUT datagram at most. */
    maxInputsPerPacket: 16,
    /** Largest JSON payload of one control message. */
    maxControlMessageBytes: 4_096,
  },
} as const

export type ClientOp = (typeof Protocol.clientOp)[keyof typeof Protocol.clientOp]
export type ServerOp = (typeof Protocol.serverOp)[keyof typeof Protocol.serverOp]
export type ControlKind = (typeof Protocol.controlKind)[keyof typeof Protocol.controlKind]
export type ErrorCodeName = keyof typeof Protocol.errorCode
export type CloseCodeName = keyof typeof Protocol.closeCode

export const errorCodeNames = Object.keys(Protocol.errorCode) as ErrorCodeName[]
export const closeCodeNames = Object.keys(Protocol.closeCode) as CloseCodeName[]

export function isErrorCodeName(value: string): value is ErrorCodeName {
  return Object.hasOwn(Protocol.errorCode, value)
}
