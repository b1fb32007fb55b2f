/** Rooms are worlds of one partition for life: the planner may move them, never reshape them. */
import { describe, expect, it } from 'vitest'
import { createMap, leaves } from '../../core/partition-map.ts'
import type { PartitionMap } from '../../core/partition-map.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { plan } from '../../coordinator/planner/plan.ts'
import type { PlanInput, WorkerInfo } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'

const bounds = { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }
const w = (id: string): WorkerInfo => ({ id, capacity: 100, live: true, draining: false, labels: {} })

/** One heavy partition (80% of a worker) on worker a, worker b idle: a world would be split. */
function input(fixedLayout: boolean): PlanInput {
  const map: PartitionMap = { ...createMap('x', bounds, 'a'), root: { kind: 'leaf', id: 'p0', owner: 'a', epoch: 1 } }
  const summary = [
    { minX: 0, minY: 0, maxX: 500, maxY: 1000, weight: 40 },
    { minX: 500, minY: 0, maxX: 1000, maxY: 1000, weight: 40 },
  ]
  return {
    round: 0,
    worlds: [{ map, loads: { p0: { tickCostMs: 80, entities: 80, clients: 80, summary } }, fixedLayout }],
    workers: [w('a'), w('b')],
    state: initialPlannerState(),
  }
}

describe('fixed-layout worlds (rooms)', () => {
  it('a world under the same load is split (the control)', () => {
    const r = plan(input(false), plannerConfig())
    expect(leaves(r.maps[0] as PartitionMap).length).toBeGreaterThan(1)
  })

  it('a room under that load keeps its single partition', () => {
    const config = plannerConfig()
    let state = initialPlannerState()
    for (let round = 0; round < 10; round++) {
      const r = plan({ ...input(true), round, state }, config)
      state = r.state
      const map = r.maps[0] as PartitionMap
      expect(map.root.kind).toBe('leaf')
      expect(r.decisions.filter((d) => d.kind === 'split' || d.kind === 'merge' || d.kind === 'shift')).toEqual([])
    }
  })

  it('a room whose owner dies still gets a new owner', () => {
    const dead = input(true)
    dead.workers = [{ ...w('a'), live: false }, w('b')]
    const r = plan(dead, plannerConfig())
    const map = r.maps[0] as PartitionMap
    expect(map.root).toMatchObject({ kind: 'leaf', id: 'p0', owner: 'b', epoch: 2 })
  })
})
