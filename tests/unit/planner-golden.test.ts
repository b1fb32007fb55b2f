/**
 * The planner's output, pinned: forty rounds of a drifting-hotspot cluster (with a worker dying, one
 * draining, a second world and a room) hash to the digest recorded when the planner last changed on
 * purpose. Work on the planner's speed must leave every plan, down to the last bit of every load,
 * exactly as it was; a deliberate change of behaviour records a new digest.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { PartitionMap } from '../../core/partition-map.ts'
import { createMap, leaves } from '../../core/partition-map.ts'
import { plannerConfig } from '../../coordinator/planner/config.ts'
import { splitLeaf } from '../../coordinator/planner/operator.ts'
import { Planner, plan } from '../../coordinator/planner/plan.ts'
import type { LoadRect, PlanInput, PlannerState, WorkerInfo, WorldInput } from '../../coordinator/planner/types.ts'
import { initialPlannerState } from '../../coordinator/planner/types.ts'
import { balancedMap } from '../../scripts/sim/maps.ts'
import { reportsFromField } from '../../scripts/sim/reports.ts'
import type { Rng } from '../../scripts/sim/rng.ts'
import { mulberry32 } from '../../scripts/sim/rng.ts'

const SIZE = 20_000
const ROUNDS = 40
const config = plannerConfig({ ghostMargin: 8 })

function field(rng: Rng, n: number, spots: readonly { x: number; y: number }[]): LoadRect[] {
  const out: LoadRect[] = []
  for (let i = 0; i < n; i++) {
    const h = spots[i % Math.max(1, spots.length)]
    const r = h ? SIZE * 0.04 * Math.sqrt(rng.next()) : 0
    const a = rng.range(0, 2 * Math.PI)
    const s = rng.range(SIZE * 0.0005, SIZE * 0.003)
    const x = Math.max(0, Math.min(SIZE - s, h ? h.x + Math.cos(a) * r : rng.range(0, SIZE)))
    const y = Math.max(0, Math.min(SIZE - s, h ? h.y + Math.sin(a) * r : rng.range(0, SIZE)))
    out.push({ minX: x, minY: y, maxX: x + s, maxY: y + s, weight: rng.range(0.5, 1.5) })
  }
  return out
}

/** A JSON copy: what the coordinator plans from after a map has been through the store. */
const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

interface RunOptions {
  /** Feed each round a JSON copy of its input, as after a trip through the store. */
  viaStore?: boolean
  /** One `Planner` for every round, keeping its scratch copies, instead of a fresh `plan` each round. */
  kept?: boolean
  /** Change the maps between rounds behind the planner's back: an operator split, a world left out for a round. */
  meddle?: boolean
}

/** Runs the scenario and hashes every round's result. */
function run({ viaStore = false, kept = false, meddle = false }: RunOptions = {}): string {
  const planner = new Planner()
  const rng = mulberry32(11)
  const workers: WorkerInfo[] = Array.from({ length: 60 }, (_, i) => ({
    id: `w${String(i).padStart(2, '0')}`, capacity: 400, live: true, draining: false, labels: {},
  }))
  let big: PartitionMap = balancedMap('big', { minX: 0, minY: 0, maxX: SIZE, maxY: SIZE }, 600,
    (i) => workers[Math.floor((i * workers.length) / 600)]?.id ?? null)
  let small: PartitionMap = balancedMap('zone/2', { minX: 0, minY: 0, maxX: 4000, maxY: 2000 }, 6, () => null)
  let room: PartitionMap = createMap('room-1', { minX: 0, minY: 0, maxX: 100, maxY: 100 }, 'w05')
  let state: PlannerState = initialPlannerState()
  const spots = [{ x: SIZE * 0.3, y: SIZE * 0.6 }, { x: SIZE * 0.7, y: SIZE * 0.2 }, { x: SIZE * 0.5, y: SIZE * 0.5 }]
  const background = field(rng, 6000, [])
  const hash = createHash('sha256')
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, s] of spots.entries()) {
      s.x = Math.min(SIZE * 0.9, Math.max(SIZE * 0.1, s.x + (i - 1) * SIZE * 0.01))
      s.y = Math.min(SIZE * 0.9, Math.max(SIZE * 0.1, s.y + SIZE * 0.006))
    }
    if (round === 15) workers[3] = { ...(workers[3] as WorkerInfo), live: false }
    if (round === 25) workers[10] = { ...(workers[10] as WorkerInfo), draining: true }
    if (round === 32) workers.push({ id: 'w60', capacity: 800, live: true, draining: false, labels: {} })
    const smallLoads = reportsFromField(small, field(rng, 300, [{ x: 1000, y: 1000 }]))
    if (meddle && round % 7 === 3) {
      const target = leaves(big)[round % 50]
      const split = target ? splitLeaf(big, target.leaf.id, { minWidth: 8 }) : undefined
      if (split?.ok) big = split.map
    }
    const worlds: WorldInput[] = [
      { map: big, loads: reportsFromField(big, [...background, ...field(rng, 3000, round < 30 ? spots : [])]) },
      { map: small, loads: smallLoads },
      { map: room, loads: { p0: { tickCostMs: 20 + round, entities: 3, clients: 1, summary: [] } }, fixedLayout: true },
    ]
    const skipSmall = meddle && round % 9 === 4
    const input: PlanInput = { round, worlds: skipSmall ? [worlds[0], worlds[2]] as WorldInput[] : worlds, workers: [...workers], state }
    const result = kept ? planner.plan(viaStore ? copy(input) : input, config) : plan(viaStore ? copy(input) : input, config)
    hash.update(JSON.stringify(result))
    if (skipSmall) [big, room] = result.maps as [PartitionMap, PartitionMap]
    else [big, small, room] = result.maps as [PartitionMap, PartitionMap, PartitionMap]
    state = result.state
  }
  return hash.digest('hex')
}

describe('planner output', () => {
  it('is exactly what it was: forty rounds hash to the recorded digest', () => {
    expect(run()).toBe('038b3d3952c4ab88816bd15c722c3cd683f76cc9f8c0d6122eebdfba3c303b41')
  })

  it('is the same from a planner that keeps its scratch copies, fed its own output or copies of it', () => {
    expect(run({ kept: true })).toBe('038b3d3952c4ab88816bd15c722c3cd683f76cc9f8c0d6122eebdfba3c303b41')
    expect(run({ kept: true, viaStore: true })).toBe('038b3d3952c4ab88816bd15c722c3cd683f76cc9f8c0d6122eebdfba3c303b41')
  })

  it('is the same whether or not scratch copies are kept when the maps change behind the planner\'s back', () => {
    expect(run({ kept: true, meddle: true })).toBe(run({ meddle: true }))
  })
})
