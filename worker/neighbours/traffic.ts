/**
 * Per-tick traffic at a border that is not about authority: each partition's ghosts out to the
 * workers owning its neighbours (and to a worker relaying one of its players, wherever that player
 * walks), and game messages addressed to ghosts, routed to the entity's owner.
 */
import type { BorderSegment, PartitionMap } from '../../core/partition-map.ts'
import { leafInfo } from '../../core/partition-map.ts'
import type { PartitionRef } from '../../proto/gen/tessera/v1/common.ts'
import type { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { Entity } from '../game/types.ts'
import { wireFields } from '../game-faults.ts'
import type { PartitionRunner } from '../partition-runner.ts'
import type { Ghost } from '../world-view.ts'
import { gameCodecs, toGhostState } from './codec.ts'
import type { GhostStore } from './ghosts.ts'
import { bordersByOwner, nearBorder } from './ghosts.ts'

type AnyRunner = PartitionRunner<unknown, unknown>

export interface TrafficContext {
  workerId: string
  ghostMargin: number
  ghosts: GhostStore
  /** Entities whose player's connection a peer relays: their ghost goes there whatever the margin. */
  relayedBy: ReadonlyMap<string, string>
  stats: { messagesOut: number; messagesDropped: number }
  tick(): number
  map(worldId: string): PartitionMap | undefined
  sendRemote(peer: string, frame: NeighbourFrame): boolean
  /** To a peer, or to ourselves (the local inbox). */
  send(peer: string, frame: NeighbourFrame): void
  runnerOwning(worldId: string, id: number): AnyRunner | undefined
  /**
   * A runner's entities out on offer (taken out of its simulation until the answer), with their
   * player's last applied input: still published as its ghosts, so neighbours do not lose sight
   * of them while an offer waits (offers are paced per peer: a big handover holds many at once).
   */
  held(runnerKey: string): Iterable<{ entity: Entity<unknown>; lastInputSeq: number | undefined }>
  /** Whether an entity left one of our partitions and our record of it knows where it went. */
  follows(worldId: string, id: number): boolean
  /**
   * Per runner (by key), its partition and the workers its last ghost batches went to: a worker
   * it stops sending to (its border with it gone, or the runner stopped) gets one empty batch, so
   * the ghosts it was shown go at once instead of standing frozen until they fade.
   */
  published: Map<string, { ref: PartitionRef; peers: Set<string> }>
}

const key = (worldId: string, id: number) => `${worldId}:${id}`


export function publishGhosts(c: TrafficContext, r: AnyRunner): void {
  const map = c.map(r.options.worldId)
  if (!map) return
  const margin = c.ghostMargin
  // Each peer's shared border segments, looked up once per tick rather than searched per entity.
  const bordersOf = bordersByOwner(map, r.options.partitionId)
  const perPeer = new Map<string, Ghost[]>()
  for (const peer of bordersOf.keys()) perPeer.set(peer, [])
  const relayed = c.relayedBy.size > 0
  // An entity's ghost is worked out once, however many peers it goes to.
  const place = (e: Entity<unknown>, seq: number | undefined) => {
    const relayPeer = relayed ? c.relayedBy.get(key(r.options.worldId, e.id)) : undefined
    if (relayPeer !== undefined && !perPeer.has(relayPeer)) perPeer.set(relayPeer, [])
    let ghost: Ghost | undefined
    for (const [peer, list] of perPeer) {
      if (peer === relayPeer || nearAny(e.x, e.y, bordersOf.get(peer), margin)) list.push((ghost ??= localGhost(r, e, seq)))
    }
  }
  for (const e of r.sim.allEntities()) place(e as Entity<unknown>, undefined)
  for (const h of c.held(r.key)) place(h.entity, h.lastInputSeq)
  const ref: PartitionRef = r.ref
  for (const [peer, list] of perPeer) {
    if (peer === c.workerId) {
      const mapEpoch = leafInfo(map, r.options.partitionId)?.leaf.epoch
      c.ghosts.apply(ref.worldId, ref.partitionId, ref.epoch, mapEpoch, list, c.tick())
      continue
    }
    c.sendRemote(peer, { frame: { $case: 'ghosts', value: { source: ref, tick: Math.max(0, r.sim.tick), ghosts: list.map(toGhostState) } } })
  }
  const before = c.published.get(r.key)
  if (before) for (const peer of before.peers) if (!perPeer.has(peer)) sendEmptyBatch(c, before.ref, peer)
  c.published.set(r.key, { ref, peers: new Set(perPeer.keys()) })
}

/** Runners that stopped since their last batches: each of their peers gets one empty batch. */
export function withdrawGhosts(c: TrafficContext, live: ReadonlySet<string>): void {
  for (const [k, { ref, peers }] of c.published) {
    if (live.has(k)) continue
    for (const peer of peers) sendEmptyBatch(c, ref, peer)
    c.published.delete(k)
  }
}

function sendEmptyBatch(c: TrafficContext, ref: PartitionRef, peer: string): void {
  const tick = c.tick()
  if (peer === c.workerId) c.ghosts.apply(ref.worldId, ref.partitionId, ref.epoch, undefined, [], tick)
  else c.sendRemote(peer, { frame: { $case: 'ghosts', value: { source: ref, tick: Math.max(0, tick), ghosts: [] } } })
}

function nearAny(x: number, y: number, borders: readonly BorderSegment[] | undefined, margin: number): boolean {
  if (borders === undefined) return false
  for (const b of borders) if (nearBorder(x, y, b, margin)) return true
  return false
}

export function routeMessages(c: TrafficContext, r: AnyRunner): void {
  const worldId = r.options.worldId
  const codecs = gameCodecs(r.options.game)
  for (const m of r.sim.takeOutboundMessages()) {
    const here = c.runnerOwning(worldId, m.to)
    if (here) {
      here.sim.deliverMessage(m.from, m.to, m.payload)
      continue
    }
    // An entity that just left one of our partitions (on offer, or handed on) may still be a ghost
    // here: the message follows it from our record, through our own inbox, as its inputs do.
    const src = c.follows(worldId, m.to) ? { partitionId: '', epoch: 0, owner: c.workerId } : ghostOwner(c, worldId, m.to)
    if (!src?.owner) continue
    // A message the game cannot encode is dropped alone: the rest go, and so does the tick's border work.
    let payload: Uint8Array
    try {
      payload = codecs.message.encode(m.payload)
    } catch (err) {
      c.stats.messagesDropped++
      r.faults.report(err, 'codec', m.to)
      continue
    }
    c.stats.messagesOut++
    const target = { worldId, partitionId: src.partitionId, epoch: src.epoch }
    c.send(src.owner, { frame: { $case: 'message', value: { target, toEntity: m.to, fromEntity: m.from, payload: Buffer.from(payload) } } })
  }
}

/** The partition whose ghost of entity `id` we hold, and its owner in the map now. */
function ghostOwner(c: TrafficContext, worldId: string, id: number): { partitionId: string; epoch: number; owner: string | null | undefined } | undefined {
  const src = c.ghosts.sourceOf(worldId, id)
  const map = c.map(worldId)
  if (!src || !map) return undefined
  return { partitionId: src.partitionId, epoch: src.epoch, owner: leafInfo(map, src.partitionId)?.leaf.owner }
}

/** A ghost of one of our own entities (`seq`: its player's last applied input, when not in `r`'s simulation), for our other partitions. */
export function localGhost(r: AnyRunner, e: Entity<unknown>, seq?: number): Ghost {
  const fields = { kind: 0, flags: 0, hp: 0 }
  wireFields(r.options.game, e, fields, r.faults)
  const g: Ghost = { id: e.id, x: e.x, y: e.y, heading: e.heading, speed: Math.hypot(e.vx, e.vy), fields }
  if (e.playerId !== null) g.lastInputSeq = seq ?? r.sim.lastInputSeq(e.playerId)
  return g
}
