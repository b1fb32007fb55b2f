/**
 * Two workers' borders in one test, no links: wA runs p1 (west of x = 100), wB runs p2 (east), and
 * the frames each queues for the other are carried between ticks as the links would carry them.
 * `live` is the set of workers with a registration, as both borders see it (delete one to end its
 * lease).
 */
import { silentLogger } from '../../core/log.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import type { WorkerRecord } from '../../core/records.ts'
import type { NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { Game, Rect } from '../../worker/game/types.ts'
import { Border } from '../../worker/neighbours/border.ts'
import type { BorderDeps } from '../../worker/neighbours/border.ts'
import { PartitionRunner } from '../../worker/partition-runner.ts'
import { BOUNDS, splitMap } from './test-maps.ts'

export const P1: Rect = { minX: 0, minY: 0, maxX: 100, maxY: 100 }
export const P2: Rect = { minX: 100, minY: 0, maxX: 200, maxY: 100 }

type AnyRunner = PartitionRunner<unknown, unknown>

/** A runner of p1 or p2; entity ids unique across the world, as a worker's are: p1's from 1, p2's from 1001. */
export function runner<S, M>(partitionId: 'p1' | 'p2', game: Game<S, M>, border?: Border): AnyRunner {
  let next = partitionId === 'p1' ? 1 : 1001
  return new PartitionRunner<S, M>({
    worldId: 'w', partitionId, epoch: 1, kind: 'world', rect: partitionId === 'p1' ? P1 : P2, worldBounds: BOUNDS, maxPlayers: undefined,
    game, seed: 1, tickRate: 20, interestRadius: 1000, npcs: 0, logger: silentLogger(), ids: { next: () => next++ }, ...(border ? { border } : {}),
  }) as unknown as AnyRunner
}

/** A worker's border alone: `sent` holds what it queued for other workers; `live` is who has a registration. */
export function borderOf(
  workerId: string, map: PartitionMap, runners: AnyRunner[], ghostMargin = 16, live: ReadonlySet<string> = new Set(['wA', 'wB']), extra: Partial<BorderDeps> = {},
) {
  const sent: Array<{ peer: string; frame: NeighbourFrame }> = []
  const border = new Border({
    workerId, logger: silentLogger(), ghostMargin, clientUrl: `http://${workerId}`,
    ...extra,
    map: () => map,
    workers: () => new Map([...live].map((id) => [id, { id, clientUrl: `http://${id}` } as WorkerRecord])),
    runners: () => runners,
    runner: (_w, p) => runners.find((r) => r.options.partitionId === p),
    sendRemote: (peer, frame) => {
      sent.push({ peer, frame })
      return true
    },
  })
  return { border, sent }
}

/**
 * wA (p1) and wB (p2) playing `game`. A ghost margin of 2 keeps an entity 6 units into p2 out of
 * the ghost batches: it travels only in offers.
 */
export function twoWorkers<S, M>(game: Game<S, M>, extra: { wA?: Partial<BorderDeps>; wB?: Partial<BorderDeps> } = {}) {
  const map = splitMap('wA', 1)
  const live = new Set(['wA', 'wB'])
  const onA: AnyRunner[] = []
  const onB: AnyRunner[] = []
  const a = borderOf('wA', map, onA, 2, live, extra.wA)
  const b = borderOf('wB', map, onB, 2, live, extra.wB)
  const p1 = runner('p1', game, a.border)
  const p2 = runner('p2', game, b.border)
  onA.push(p1)
  onB.push(p2)
  const deliver = () => {
    while (a.sent.length + b.sent.length > 0) {
      const toB = a.sent.splice(0).filter((s) => s.peer === 'wB').map((s) => s.frame)
      b.border.receive('wA', toB)
      const toA = b.sent.splice(0).filter((s) => s.peer === 'wA').map((s) => s.frame)
      a.border.receive('wB', toA)
    }
  }
  let tick = 0
  const offers: NeighbourFrame[] = []
  /** One tick on both workers; then (unless `carry` is false) their frames are carried. */
  const step = (carry = true) => {
    tick++
    a.border.beforeTick(tick)
    b.border.beforeTick(tick)
    p1.tick()
    p2.tick()
    a.border.afterTick()
    b.border.afterTick()
    for (const s of a.sent) if (s.frame.frame?.$case === 'handoff') offers.push(s.frame)
    if (carry) deliver()
  }
  /** Where entity `id` is: simulated by p1, by p2, or held on offer by either worker. */
  const copies = (id: number) => [
    ...(p1.sim.entity(id) ? ['p1'] : []),
    ...(p2.sim.entity(id) ? ['p2'] : []),
    ...a.border.offersOut().filter((o) => o.entityId === id).map(() => 'offered by wA'),
    ...b.border.offersOut().filter((o) => o.entityId === id).map(() => 'offered by wB'),
  ]
  /** Frames queued by wA and not carried: those that went nowhere (wB is dead). */
  const dropFromA = () => a.sent.splice(0)
  return { a: a.border, b: b.border, p1, p2, live, step, deliver, copies, offers, dropFromA }
}
