/**
 * The leader's planning loop: every round it gives each world without a map its first one, runs the
 * pure planner over every map with the latest loads, and writes the maps that changed.
 *
 * Every map write is one transaction that compares two things: the map's revision is the one the
 * plan was made from, and this coordinator's election key is still the one it won with. A leader
 * that lost its lease (and may not know yet) therefore cannot overwrite a newer leader's map, and two
 * leaders can never both own a partition's future: epochs only grow along one chain of writes.
 */
import type { Logger } from '../core/log.ts'
import { createMap, encodeMap } from '../core/partition-map.ts'
import type { PartitionMap } from '../core/partition-map.ts'
import type { Rect } from '../core/geometry.ts'
import type { WorldSpec } from '../core/records.ts'
import type { Leadership } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { Compare, ClusterStore } from '../core/store/types.ts'
import type { EventLog } from './events.ts'
import type { LoadTable } from './load-table.ts'
import type { Decision, PlannerConfig, PlannerState } from './planner/index.ts'
import { Planner, initialPlannerState } from './planner/index.ts'
import { workerInfos, worldInputs } from './planning-input.ts'
import type { ReportedLeaf } from './reconcile.ts'
import { rebuildMap } from './reconcile.ts'
import type { ClusterView } from './view.ts'

export interface RebalancerDeps {
  store: ClusterStore
  keys: Keys
  view: ClusterView
  loads: LoadTable
  events: EventLog
  logger: Logger
  config: PlannerConfig
  /** The leadership this coordinator holds, or undefined when it does not lead. */
  leadership: () => Leadership | undefined
}

export type RoundOutcome =
  | { ran: false; why: 'not-leader' }
  | {
    ran: true; round: number; decisions: Decision[]; written: string[]; conflicts: string[]; ms: number
    /** The planner's estimate of each live worker's load after this round's plan (ms/s). */
    workerLoads: Record<string, number>
  }

export class Rebalancer {
  private state: PlannerState = initialPlannerState()
  /** Keeps its scratch copy of each map between rounds (it checks that the map it is given is the one it returned). */
  private readonly planner = new Planner()
  private round = 0
  /** Operator pause: no balancing moves, splits, merges or shifts; orphans and drains still proceed. */
  paused = false
  /** What the last plan said about cluster size. */
  workersWanted = 0

  constructor(private readonly deps: RebalancerDeps) {}

  /** The leader forgets planner memory when it (re)gains leadership: another leader planned since. */
  reset(): void {
    this.state = initialPlannerState()
  }

  async runRound(): Promise<RoundOutcome> {
    const lead = this.deps.leadership()
    if (!lead || lead.isLost) return { ran: false, why: 'not-leader' }
    const started = performance.now()
    await this.createMissingMaps(lead)

    const { view, loads, config } = this.deps
    const worlds = worldInputs(view, loads)
    const round = ++this.round
    const result = this.planner.plan(
      { round, worlds, workers: workerInfos(view), state: this.state },
      this.paused ? { ...config, maxMovesPerRound: 0, maxSplitsPerRound: 0, maxMergesPerRound: 0, maxShiftsPerRound: 0 } : config,
    )
    this.state = result.state
    this.workersWanted = result.workersWanted

    const written: string[] = []
    const conflicts: string[] = []
    for (const [i, next] of result.maps.entries()) {
      const before = worlds[i]?.map
      if (!before || next.version === before.version) continue
      const cached = view.map(next.worldId)
      if (!cached) continue
      if (await this.writeMap(lead, next, cached.modRevision)) written.push(next.worldId)
      else conflicts.push(next.worldId)
    }
    const applied = result.decisions.filter((d) => written.includes(d.worldId))
    for (const d of applied) this.publishDecision(d)
    if (conflicts.length > 0) {
      // Someone else wrote first (an operator action, another leader): plan again from the new map.
      this.deps.logger.info({ conflicts }, 'map changed under the plan; will replan next round')
    }
    return { ran: true, round, decisions: applied, written, conflicts, ms: performance.now() - started, workerLoads: result.workerLoads }
  }

  /**
   * Write `map` if the stored map is still at `expectedModRevision` (0: absent) and this coordinator
   * still leads. Returns whether it was written.
   */
  async writeMap(lead: Leadership, map: PartitionMap, expectedModRevision: number): Promise<boolean> {
    const key = this.deps.keys.worldMap(map.worldId)
    const compare: Compare[] = [
      { key: lead.key, target: 'createRevision', op: '==', value: lead.revision },
      expectedModRevision === 0
        ? { key, target: 'createRevision', op: '==', value: 0 }
        : { key, target: 'modRevision', op: '==', value: expectedModRevision },
    ]
    const res = await this.deps.store.txn({ compare, success: [{ type: 'put', key, value: encodeMap(map) }] })
    return res.succeeded
  }

  /**
   * A world spec without a map gets one. If live workers still report partitions of that world (the
   * store lost the map), the map is rebuilt from their reports so ownership survives; otherwise it
   * starts as one unowned partition for the planner to assign. A world whose spec is gone too but
   * whose partitions are still reported gets its spec back from the reports, unless a tombstone says
   * it was deleted on purpose (its workers are just about to notice).
   */
  private async createMissingMaps(lead: Leadership): Promise<void> {
    const { view, store, keys, events } = this.deps
    const reported = this.reportedWorlds()
    const ids = new Set([...view.allWorlds().map((s) => s.id), ...reported.keys()])
    for (const id of [...ids].sort()) {
      if (view.map(id)) continue
      const seen = reported.get(id)
      let spec = view.world(id)
      if (!spec) {
        if (!seen || (await store.get(keys.tombstone(id)))) continue
        spec = { id, kind: seen.kind, bounds: seen.worldBounds, labels: {}, createdAt: Date.now() }
        if (!(await this.writeSpec(lead, spec))) continue
      }
      const rebuilt = seen ? rebuildMap(id, spec.bounds, seen.leaves) : undefined
      const map = rebuilt ?? createMap(spec.id, spec.bounds, null)
      if (await this.writeMap(lead, map, 0)) {
        events.publish({
          type: 'map',
          worldId: spec.id,
          message: rebuilt
            ? `rebuilt the partition map of ${spec.id} from ${seen?.leaves.length ?? 0} partitions its workers still run`
            : `created the partition map of ${spec.kind} ${spec.id}`,
        })
        await this.waitForCache(spec.id)
      }
    }
  }

  /** Partitions that live workers report, grouped by world, with what they know of the world. */
  private reportedWorlds(): Map<string, { kind: WorldSpec['kind']; worldBounds: Rect; leaves: ReportedLeaf[] }> {
    const out = new Map<string, { kind: WorldSpec['kind']; worldBounds: Rect; leaves: ReportedLeaf[] }>()
    for (const { workerId, report } of this.deps.loads.fresh()) {
      if (!this.deps.view.worker(workerId)) continue
      for (const p of report.partitions) {
        if (!p.partition || !p.bounds || !p.worldBounds) continue
        const kind = p.worldKind === 'room' ? 'room' : 'world'
        const entry = out.get(p.partition.worldId) ?? { kind, worldBounds: p.worldBounds, leaves: [] }
        entry.leaves.push({ id: p.partition.partitionId, rect: p.bounds, owner: workerId, epoch: p.partition.epoch })
        out.set(p.partition.worldId, entry)
      }
    }
    return out
  }

  private async writeSpec(lead: Leadership, spec: WorldSpec): Promise<boolean> {
    const key = this.deps.keys.world(spec.id)
    const res = await this.deps.store.txn({
      compare: [
        { key: lead.key, target: 'createRevision', op: '==', value: lead.revision },
        { key, target: 'createRevision', op: '==', value: 0 },
      ],
      success: [{ type: 'put', key, value: JSON.stringify(spec) }],
    })
    return res.succeeded
  }

  /** The watch delivers our own write shortly; plan from it rather than from a stale copy. */
  private async waitForCache(worldId: string): Promise<void> {
    for (let i = 0; i < 50 && !this.deps.view.map(worldId); i++) await new Promise((r) => setTimeout(r, 10))
  }

  private publishDecision(d: Decision): void {
    const base = { worldId: d.worldId, partitionId: d.partition, message: `${d.kind} ${d.partition} of ${d.worldId}: ${d.reason}` }
    switch (d.kind) {
      case 'assign':
      case 'move':
        this.deps.events.publish({
          ...base,
          type: 'decision',
          workerId: d.after.owner ?? undefined,
          epoch: d.after.epoch,
          details: { kind: d.kind, cause: d.cause, before: d.before, after: d.after, load: d.load },
        })
        break
      case 'split':
      case 'merge':
        this.deps.events.publish({ ...base, type: 'decision', epoch: d.after.epoch, details: { kind: d.kind, before: d.before, after: d.after } })
        break
      case 'shift':
        this.deps.events.publish({ ...base, type: 'decision', details: { kind: d.kind, axis: d.axis, from: d.from, to: d.to, load: d.load, before: d.before, after: d.after } })
        break
    }
  }
}
