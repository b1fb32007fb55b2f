/**
 * Joining a world: the player goes to the owner of the partition at its spawn point. Without a spawn
 * the point is derived from the player id (the same player lands in the same place every time, and
 * players spread over the world), so routing is deterministic and replayable.
 */
import { createHash } from 'node:crypto'
import type { WorldGrant } from '../core/api/gateway.ts'
import type { Point, Rect } from '../core/geometry.ts'
import { containsPoint } from '../core/geometry.ts'
import { leafAt, leaves } from '../core/partition-map.ts'
import { GatewayError } from './errors.ts'
import type { GrantSigner } from './grants.ts'
import type { GatewayView } from './view.ts'

/** A point inside `bounds` chosen from a hash of `playerId`. */
export function defaultSpawn(playerId: string, bounds: Rect): Point {
  const h = createHash('sha256').update(playerId).digest()
  const fx = h.readUInt32BE(0) / 0x1_0000_0000
  const fy = h.readUInt32BE(4) / 0x1_0000_0000
  return { x: bounds.minX + fx * (bounds.maxX - bounds.minX), y: bounds.minY + fy * (bounds.maxY - bounds.minY) }
}

export async function joinWorld(
  deps: { view: GatewayView; signer: GrantSigner; now: number; beforeGrant: (worldId: string) => Promise<void> },
  playerId: string,
  worldId: string,
  spawn: Point | undefined,
): Promise<WorldGrant> {
  const spec = deps.view.world(worldId)
  const map = deps.view.map(worldId)
  if (!spec || spec.kind !== 'world' || !map) throw new GatewayError('unknown_world', `no world ${worldId}${spec?.kind === 'room' ? ' (it is a room: join it by room id)' : ''}`)
  const point = spawn ?? defaultSpawn(playerId, map.bounds)
  if (!containsPoint(map.bounds, point, true)) throw new GatewayError('malformed', `spawn (${point.x}, ${point.y}) is outside the world`)
  // The far edges belong to no half-open leaf; route them to the leaf whose closed rectangle holds them.
  const leaf = leafAt(map, point) ?? leaves(map).find((l) => containsPoint(l.rect, point, true))?.leaf
  const worker = leaf?.owner ? deps.view.worker(leaf.owner) : undefined
  if (!leaf || !leaf.owner || !worker) throw new GatewayError('partition_unassigned', `the partition at (${point.x}, ${point.y}) has no live owner right now; try again shortly`)
  await deps.beforeGrant(worldId)
  const g = await deps.signer.grant(playerId, { worldId, workerId: worker.id, clientUrl: worker.clientUrl, partitionId: leaf.id, epoch: leaf.epoch }, deps.now)
  return { ...g, spawn: point }
}
