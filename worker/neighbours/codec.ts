/**
 * Entities, inputs and game messages on the neighbour wire: between our in-memory shapes and the
 * proto messages. Game state and messages go through the game's codec (JSON by default).
 */
import type { InputRecord } from '../../core/wire/input-codec.ts'
import type { PartitionRef } from '../../proto/gen/tessera/v1/common.ts'
import type { EntityState, GhostState, PendingInput } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { Entity, Game, StateCodec } from '../game/types.ts'
import type { GameFaults } from '../game-faults.ts'
import type { Ghost } from '../world-view.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** JSON, for games without a codec of their own. */
export function jsonCodec<T>(): StateCodec<T> {
  return {
    encode: (v) => encoder.encode(JSON.stringify(v)),
    decode: (b) => JSON.parse(decoder.decode(b)) as T,
  }
}

export interface GameCodecs<S, M> {
  state: StateCodec<S>
  message: StateCodec<M>
}

/** The JSON codecs of each game without its own (made once per game, not once per entity). */
const defaults = new WeakMap<object, GameCodecs<unknown, unknown>>()

export function gameCodecs<S, M>(game: Game<S, M>): GameCodecs<S, M> {
  if (game.codec) return game.codec
  let codecs = defaults.get(game) as GameCodecs<S, M> | undefined
  if (!codecs) {
    codecs = { state: jsonCodec<S>(), message: jsonCodec<M>() }
    defaults.set(game, codecs as GameCodecs<unknown, unknown>)
  }
  return codecs
}

export function toEntityState<S>(e: Readonly<Entity<S>>, codec: StateCodec<S>, lastInputSeq = 0): EntityState {
  return {
    id: e.id, x: e.x, y: e.y, vx: e.vx, vy: e.vy, heading: e.heading, radius: e.radius,
    state: Buffer.from(codec.encode(e.state)), playerId: e.playerId ?? '', lastInputSeq,
  }
}

export function fromEntityState<S>(s: EntityState, codec: StateCodec<S>): Entity<S> {
  return {
    id: s.id, control: s.playerId ? 'player' : 'npc', playerId: s.playerId || null,
    x: s.x, y: s.y, vx: s.vx, vy: s.vy, heading: s.heading, radius: s.radius || 0.5,
    state: codec.decode(s.state),
  }
}

/**
 * `toEntityState`, or undefined when the game's `encode` throws for this entity (reported to
 * `faults`): that costs the entity its place in the batch or offer, not the batch or the tick.
 */
export function encodeEntity<S>(e: Readonly<Entity<S>>, codec: StateCodec<S>, lastInputSeq: number, faults: GameFaults): EntityState | undefined {
  try {
    return toEntityState(e, codec, lastInputSeq)
  } catch (err) {
    faults.report(err, 'codec', e.id)
    return undefined
  }
}

/**
 * `fromEntityState`, or undefined when the game's `decode` throws for this entity (reported to
 * `faults`): that costs the entity, not the batch or offer it came in.
 */
export function decodeEntity<S>(s: EntityState, codec: StateCodec<S>, faults: GameFaults): Entity<S> | undefined {
  try {
    return fromEntityState(s, codec)
  } catch (err) {
    faults.report(err, 'codec', s.id)
    return undefined
  }
}

/** A ghost as it goes to a neighbour. */
export function toGhostState(g: Ghost): GhostState {
  const s: GhostState = { id: g.id, x: g.x, y: g.y, heading: g.heading, speed: g.speed, kind: g.fields.kind, flags: g.fields.flags, hp: g.fields.hp }
  if (g.lastInputSeq !== undefined) s.lastInputSeq = g.lastInputSeq
  return s
}

/** A ghost as a neighbour sent it. */
export function fromGhostState(s: GhostState): Ghost {
  const g: Ghost = { id: s.id, x: s.x, y: s.y, heading: s.heading, speed: s.speed, fields: { kind: s.kind, flags: s.flags, hp: s.hp } }
  if (s.lastInputSeq !== undefined) g.lastInputSeq = s.lastInputSeq
  return g
}

/** One input as 8 bytes: u32 tick, i8 moveX, i8 moveY, u16 buttons (seq travels beside it). */
export function toPendingInput(i: InputRecord): PendingInput {
  const b = Buffer.alloc(8)
  b.writeUInt32LE(i.tick >>> 0, 0)
  b.writeInt8(i.moveX, 4)
  b.writeInt8(i.moveY, 5)
  b.writeUInt16LE(i.buttons & 0xffff, 6)
  return { seq: i.seq, input: b }
}

export function fromPendingInput(p: PendingInput): InputRecord | undefined {
  const b = p.input
  if (b.length < 8 || p.seq < 1) return undefined
  return { seq: p.seq, tick: b.readUInt32LE(0), moveX: b.readInt8(4), moveY: b.readInt8(5), buttons: b.readUInt16LE(6) }
}

export function refKey(r: PartitionRef): string {
  return `${r.worldId}:${r.partitionId}`
}
