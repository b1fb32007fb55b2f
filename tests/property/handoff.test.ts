/**
 * The handoff state machine under random interleavings: entities walk across a border between two
 * partitions while the map moves partitions between three workers (epochs grow), workers see map
 * changes late, and frames between workers are delayed, reordered, duplicated and (in one property)
 * dropped. A model of the runtime drives the pure machine; the properties are the ones the runtime
 * relies on:
 *
 *   - after every step, each entity has exactly one owner: a runner simulating it, or a runner with
 *     an offer out that no receiver has accepted yet (never two, never zero);
 *   - every entity's inputs are applied in increasing sequence order, so never twice, across any
 *     number of moves; with no frame dropped, every input is applied exactly once.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InputQueue } from '../../worker/input-queue.ts'
import {
  DEFAULT_HANDOFF, OWNED, expire, judgeOffer, onReply, resendDue, shouldOffer, startOffer,
} from '../../worker/handoff/machine.ts'
import type { Box, HandoffConfig, OwnerPhase, Ref, Verdict } from '../../worker/handoff/machine.ts'

const WORKERS = ['w1', 'w2', 'w3'] as const
type WorkerId = (typeof WORKERS)[number]
const PARTS = { A: { minX: 0, minY: 0, maxX: 100, maxY: 10 }, B: { minX: 100, minY: 0, maxX: 200, maxY: 10 } } satisfies Record<string, Box>
type Part = keyof typeof PARTS
const CONFIG: HandoffConfig = { ...DEFAULT_HANDOFF, resendTicks: 3, retryTicks: 2, forwardTicks: 1_000_000 }

type MapView = Record<Part, { owner: WorkerId; epoch: number }>

interface Held {
  phase: OwnerPhase
  x: number
  queue: InputQueue
  /** Worker that accepted the offer (where forwarded inputs go). */
  fwdWorker?: WorkerId
}

interface Runner {
  worker: WorkerId
  ref: Ref
  entities: Map<number, Held>
}

type Frame =
  | { kind: 'offer'; to: WorkerId; replyTo: string; from: Ref; target: Ref; handoffId: string; entityId: number; x: number; lastApplied: number; pending: number[] }
  | { kind: 'reply'; to: WorkerId; runner: string; entityId: number; handoffId: string; accepted: boolean }
  | { kind: 'input'; to: WorkerId; entityId: number; seq: number }

type Action =
  | { t: 'tick'; moves: number[] }
  | { t: 'input'; entity: number }
  | { t: 'map'; part: Part; owner: WorkerId }
  | { t: 'sync'; worker: WorkerId }
  | { t: 'deliver'; pick: number }
  | { t: 'dup'; pick: number }
  | { t: 'drop'; pick: number }

const runnerKey = (w: WorkerId, r: Ref) => `${w}/${r.partitionId}@${r.epoch}`
const partAt = (x: number): Part => (x < 100 ? 'A' : 'B')

class Model {
  map: MapView = { A: { owner: 'w1', epoch: 1 }, B: { owner: 'w2', epoch: 1 } }
  views = new Map<WorkerId, MapView>(WORKERS.map((w) => [w, structuredClone(this.map)]))
  runners = new Map<string, Runner>()
  net: Frame[] = []
  tick = 0
  ids = 0
  /** Receivers' final answers by handoff id (per worker). */
  decided = new Map<string, Verdict>()
  accepted = new Set<string>()
  /** Per entity: the runner the client is connected to (inputs enter there), inputs sent, applied log. */
  entry = new Map<number, string>()
  sent = new Map<number, number>()
  applied = new Map<number, number[]>()

  constructor(entities: number[]) {
    this.syncRunners('w1')
    this.syncRunners('w2')
    entities.forEach((x, id) => {
      const part = partAt(x)
      const r = this.ownRunner(this.map[part].owner, part)
      r?.entities.set(id, { phase: OWNED, x, queue: new InputQueue({ gapWaitTicks: 1_000_000 }) })
      if (r) this.entry.set(id, runnerKey(r.worker, r.ref))
      this.sent.set(id, 0)
      this.applied.set(id, [])
    })
  }

  ownRunner(w: WorkerId, part: Part): Runner | undefined {
    const v = this.views.get(w)?.[part]
    if (v?.owner !== w) return undefined
    const ref = { worldId: 'w', partitionId: part, epoch: v.epoch }
    const key = runnerKey(w, ref)
    let r = this.runners.get(key)
    if (!r) {
      r = { worker: w, ref, entities: new Map() }
      this.runners.set(key, r)
    }
    return r
  }

  syncRunners(w: WorkerId): void {
    for (const part of ['A', 'B'] as const) this.ownRunner(w, part)
  }

  handingOver(r: Runner): boolean {
    const v = this.views.get(r.worker)?.[r.ref.partitionId as Part]
    return v?.owner !== r.worker || v.epoch !== r.ref.epoch
  }

  step(a: Action, allowDrops: boolean): void {
    switch (a.t) {
      case 'tick':
        this.runTick(a.moves)
        return
      case 'input': {
        const at = this.runners.get(this.entry.get(a.entity) ?? '')
        if (!at) return
        const seq = (this.sent.get(a.entity) ?? 0) + 1
        this.sent.set(a.entity, seq)
        this.inputAt(at, a.entity, seq)
        return
      }
      case 'map': {
        const cur = this.map[a.part]
        if (cur.owner === a.owner) return
        this.map[a.part] = { owner: a.owner, epoch: cur.epoch + 1 }
        return
      }
      case 'sync':
        this.views.set(a.worker, structuredClone(this.map))
        this.syncRunners(a.worker)
        return
      case 'deliver':
      case 'dup':
      case 'drop': {
        if (this.net.length === 0) return
        const i = a.pick % this.net.length
        const f = this.net[i] as Frame
        if (a.t === 'dup') {
          this.net.push(f)
          return
        }
        this.net.splice(i, 1)
        if (a.t === 'deliver') this.receive(f)
        else if (!allowDrops) this.net.push(f)
      }
    }
  }

  inputAt(r: Runner, id: number, seq: number): void {
    const held = r.entities.get(id)
    if (!held) return
    if (held.phase.phase === 'forwarding' && held.fwdWorker) this.net.push({ kind: 'input', to: held.fwdWorker, entityId: id, seq })
    else if (held.phase.phase !== 'released') held.queue.receive([{ seq, tick: 0, moveX: 0, moveY: 0, buttons: 0 }])
  }

  runTick(moves: number[]): void {
    this.tick++
    for (const r of this.runners.values()) {
      for (const [id, held] of r.entities) {
        held.phase = expire(held.phase, this.tick)
        if (held.phase.phase === 'owned') {
          held.queue.drain(this.tick, (input) => this.applied.get(id)?.push(input.seq))
          held.x = Math.min(200, Math.max(0, held.x + (moves[id] ?? 0)))
        }
        this.decide(r, id, held)
      }
    }
  }

  decide(r: Runner, id: number, held: Held): void {
    const view = this.views.get(r.worker) as MapView
    const over = this.handingOver(r)
    const part: Part = over ? (r.ref.partitionId as Part) : partAt(held.x)
    const target = { worldId: 'w', partitionId: part, epoch: view[part].epoch }
    const owner = view[part].owner
    const check = { phase: held.phase, tick: this.tick, pos: { x: held.x, y: 5 }, rect: PARTS[r.ref.partitionId as Part], handingOver: over, target, self: r.ref, config: CONFIG }
    if (shouldOffer(check) && !(owner === r.worker && target.epoch === r.ref.epoch)) {
      held.phase = startOffer(`h${++this.ids}`, r.ref, target, owner, this.tick)
      this.sendOffer(r, id, held, owner)
    } else if (resendDue(held.phase, this.tick, CONFIG) && held.phase.phase === 'offering') {
      this.sendOffer(r, id, held, held.phase.toWorker as WorkerId)
    }
  }

  sendOffer(r: Runner, id: number, held: Held, to: WorkerId): void {
    if (held.phase.phase !== 'offering') return
    const { handoffId, from, to: target } = held.phase
    // The queue's contents travel with the offer; the sender keeps its copy until the reply.
    const pending = held.queue.pendingInputs().map((p) => p.seq)
    this.net.push({ kind: 'offer', to, replyTo: runnerKey(r.worker, r.ref), from, target, handoffId, entityId: id, x: held.x, lastApplied: held.queue.lastApplied, pending })
  }

  receive(f: Frame): void {
    if (f.kind === 'offer') {
      const view = this.views.get(f.to) as MapView
      const part = f.target.partitionId as Part
      const mine = view[part].owner === f.to ? this.ownRunner(f.to, part) : undefined
      const holder = [...this.runners.values()].find((r) => r.worker === f.to && r.entities.get(f.entityId)?.phase.phase === 'owned')
      const key = `${f.to}:${f.handoffId}`
      const verdict = judgeOffer(
        { handoffId: f.handoffId, from: f.from, to: f.target, entityId: f.entityId, pos: { x: f.x, y: 5 } },
        {
          owned: mine ? { ref: mine.ref, rect: PARTS[part] } : undefined,
          mapEpochOfFrom: view[f.from.partitionId as Part].epoch,
          alreadyOwns: holder !== undefined,
          previous: this.decided.get(key),
          config: CONFIG,
        },
      )
      this.decided.set(key, verdict)
      if (verdict.accept && !verdict.duplicate && mine) {
        const queue = new InputQueue({ lastApplied: f.lastApplied, gapWaitTicks: 1_000_000 })
        queue.receive(f.pending.map((seq) => ({ seq, tick: 0, moveX: 0, moveY: 0, buttons: 0 })))
        // The entity may come back to a runner still holding inputs for it (an offer it made whose
        // reply is late): those stay, merged in sequence order.
        const stale = mine.entities.get(f.entityId)
        if (stale) queue.receive(stale.queue.takePending())
        mine.entities.set(f.entityId, { phase: OWNED, x: f.x, queue })
        // A worker keeps one sending-side record per entity (`Border.outs`), taken when the entity
        // comes back to it (`takeRecord`: inputs it held join the import), even while its own offer
        // is out, as in a handoff between two of its partitions. Kept per partition instead, two
        // such records could send the entity's inputs back and forth for ever.
        for (const other of this.runners.values()) {
          const record = other === mine || other.worker !== f.to ? undefined : other.entities.get(f.entityId)
          if (!record || (record.phase.phase !== 'forwarding' && record.phase.phase !== 'offering')) continue
          queue.receive(record.queue.takePending())
          other.entities.delete(f.entityId)
          // The player's connection, if it entered there, moves to the partition holding the entity.
          if (this.entry.get(f.entityId) === runnerKey(other.worker, other.ref)) this.entry.set(f.entityId, runnerKey(mine.worker, mine.ref))
        }
        this.accepted.add(f.handoffId)
      }
      this.net.push({ kind: 'reply', to: f.replyTo.split('/')[0] as WorkerId, runner: f.replyTo, entityId: f.entityId, handoffId: f.handoffId, accepted: verdict.accept })
      return
    }
    if (f.kind === 'reply') {
      const r = this.runners.get(f.runner)
      const held = r?.entities.get(f.entityId)
      if (!r || !held) return
      const before = held.phase
      held.phase = onReply(held.phase, f, this.tick, CONFIG)
      if (before.phase === 'offering' && held.phase.phase === 'forwarding') {
        held.fwdWorker = this.workerThatAccepted(f.handoffId)
        // Whatever arrived while the offer was out goes after the entity (duplicates are dropped there).
        for (const p of held.queue.takePending()) this.net.push({ kind: 'input', to: held.fwdWorker, entityId: f.entityId, seq: p.seq })
      }
      return
    }
    // The runner holding authority takes it; otherwise the latest forwarding record passes it on.
    let at: Runner | undefined
    let latest = -Infinity
    for (const r of this.runners.values()) {
      const p = r.worker === f.to ? r.entities.get(f.entityId)?.phase : undefined
      if (p === undefined) continue
      if (p.phase === 'owned' || p.phase === 'offering') {
        at = r
        break
      }
      if (p.phase === 'forwarding' && p.until > latest) {
        latest = p.until
        at = r
      }
    }
    if (at) this.inputAt(at, f.entityId, f.seq)
  }

  workerThatAccepted(handoffId: string): WorkerId {
    for (const [key, v] of this.decided) if (v.accept && key.endsWith(`:${handoffId}`)) return key.split(':')[0] as WorkerId
    throw new Error(`accepted reply without an accepting worker for ${handoffId}`)
  }

  /** Owners of each entity: simulating runners, plus senders whose offer no one accepted yet. */
  owners(id: number): string[] {
    const out: string[] = []
    for (const [key, r] of this.runners) {
      const h = r.entities.get(id)
      if (!h) continue
      if (h.phase.phase === 'owned') out.push(key)
      else if (h.phase.phase === 'offering' && !this.accepted.has(h.phase.handoffId)) out.push(key)
    }
    return out
  }

  /** Let everything settle: all frames delivered, maps synced, ticks run. */
  quiesce(): void {
    for (const w of WORKERS) this.step({ t: 'sync', worker: w }, false)
    for (let round = 0; round < 50; round++) {
      // Frames that keep making frames without a tick passing would be inputs going round in
      // circles between forwarding records: fail, rather than spin.
      for (let n = 0; this.net.length > 0; n++) {
        if (n > 100_000) throw new Error(`frames still in flight after ${n} deliveries: ${JSON.stringify(this.net.slice(0, 3))}`)
        this.step({ t: 'deliver', pick: 0 }, false)
      }
      this.runTick([])
    }
  }
}

const action = (entities: number): fc.Arbitrary<Action> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.array(fc.integer({ min: -15, max: 15 }), { minLength: entities, maxLength: entities }).map((moves) => ({ t: 'tick' as const, moves })) },
    { weight: 4, arbitrary: fc.nat(entities - 1).map((entity) => ({ t: 'input' as const, entity })) },
    { weight: 1, arbitrary: fc.record({ part: fc.constantFrom<Part>('A', 'B'), owner: fc.constantFrom(...WORKERS) }).map((m) => ({ t: 'map' as const, ...m })) },
    { weight: 2, arbitrary: fc.constantFrom(...WORKERS).map((worker) => ({ t: 'sync' as const, worker })) },
    { weight: 6, arbitrary: fc.nat(50).map((pick) => ({ t: 'deliver' as const, pick })) },
    { weight: 1, arbitrary: fc.nat(50).map((pick) => ({ t: 'dup' as const, pick })) },
    { weight: 1, arbitrary: fc.nat(50).map((pick) => ({ t: 'drop' as const, pick })) },
  )

const scenario = fc.array(fc.integer({ min: 60, max: 140 }), { minLength: 1, maxLength: 3 }).chain((starts) =>
  fc.tuple(fc.constant(starts), fc.array(action(starts.length), { minLength: 20, maxLength: 300 })),
)

function checkOwners(m: Model, n: number, where: string): void {
  for (let id = 0; id < n; id++) {
    const owners = m.owners(id)
    if (owners.length !== 1) throw new Error(`entity ${id} has ${owners.length} owners (${owners.join(', ')}) ${where}`)
  }
}

function checkOrder(m: Model, n: number): void {
  for (let id = 0; id < n; id++) {
    const log = m.applied.get(id) ?? []
    for (let i = 1; i < log.length; i++) {
      if ((log[i] ?? 0) <= (log[i - 1] ?? 0)) throw new Error(`entity ${id} applied ${log.join(',')}`)
    }
  }
}

describe('handoff state machine', () => {
  it('keeps exactly one owner per entity and applies inputs in order, with frames lost, late, reordered and repeated', () => {
    fc.assert(
      fc.property(scenario, ([starts, actions]) => {
        const m = new Model(starts)
        actions.forEach((a, i) => {
          m.step(a, true)
          checkOwners(m, starts.length, `after step ${i} (${a.t})`)
        })
        checkOrder(m, starts.length)
      }),
      { numRuns: 1000 },
    )
  })

  it('applies every input exactly once across any number of moves when no frame is lost', () => {
    fc.assert(
      fc.property(scenario, ([starts, actions]) => {
        const m = new Model(starts)
        for (const a of actions) {
          m.step(a, false)
          checkOwners(m, starts.length, `after ${a.t}`)
        }
        m.quiesce()
        checkOwners(m, starts.length, 'after settling')
        checkOrder(m, starts.length)
        for (let id = 0; id < starts.length; id++) {
          const sent = m.sent.get(id) ?? 0
          expect(m.applied.get(id)).toEqual(Array.from({ length: sent }, (_, k) => k + 1))
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('does not send inputs round in circles between two workers\' old forwarding records', () => {
    // Found by the property above: entity 2 crossed w1 → w2 → w1 (another partition) → on, and
    // with both of w1's records kept, its inputs went w1 → w2 → w1 … for ever.
    const actions: Action[] = [
      { t: 'map', part: 'B', owner: 'w1' }, { t: 'sync', worker: 'w1' }, { t: 'map', part: 'A', owner: 'w3' }, { t: 'sync', worker: 'w3' },
      { t: 'dup', pick: 0 }, { t: 'tick', moves: [0, -1, 3] }, { t: 'deliver', pick: 0 }, { t: 'input', entity: 0 }, { t: 'dup', pick: 0 },
      { t: 'tick', moves: [0, -4, 0] }, { t: 'tick', moves: [0, 0, 13] }, { t: 'sync', worker: 'w2' }, { t: 'tick', moves: [0, 0, 5] },
      { t: 'deliver', pick: 0 }, { t: 'input', entity: 2 }, { t: 'deliver', pick: 28 }, { t: 'drop', pick: 0 }, { t: 'input', entity: 0 },
      { t: 'tick', moves: [0, 0, 0] }, { t: 'tick', moves: [0, 0, 0] }, { t: 'sync', worker: 'w1' }, { t: 'tick', moves: [4, 0, -10] },
      { t: 'tick', moves: [0, 0, 0] }, { t: 'deliver', pick: 23 },
    ]
    const m = new Model([103, 67, 84])
    for (const a of actions) m.step(a, false)
    m.quiesce()
    checkOwners(m, 3, 'after settling')
    for (let id = 0; id < 3; id++) expect(m.applied.get(id)).toEqual(Array.from({ length: m.sent.get(id) ?? 0 }, (_, k) => k + 1))
  })

  it('moves entities at all, refuses stale epochs, and does not ping-pong inside the band', () => {
    const m = new Model([95])
    for (let t = 0; t < 3; t++) m.runTick([4])
    // 95 → 107: 7 past the border, beyond the 4-unit band: offered.
    const offer = m.net.find((f) => f.kind === 'offer')
    expect(offer).toBeDefined()
    m.quiesce()
    expect(m.owners(0)[0]).toMatch(/^w2\/B@1/)
    // Back over the border by less than the band: stays on w2.
    m.runTick([-9])
    m.quiesce()
    expect(m.owners(0)[0]).toMatch(/^w2\/B@1/)
    // An offer naming an epoch the receiver no longer owns is refused.
    const verdict = judgeOffer(
      { handoffId: 'x', from: { worldId: 'w', partitionId: 'A', epoch: 1 }, to: { worldId: 'w', partitionId: 'B', epoch: 1 }, entityId: 9, pos: { x: 150, y: 5 } },
      { owned: { ref: { worldId: 'w', partitionId: 'B', epoch: 2 }, rect: PARTS.B }, mapEpochOfFrom: 1, alreadyOwns: false, previous: undefined, config: CONFIG },
    )
    expect(verdict).toEqual({ accept: false, reason: 'stale_to_epoch' })
    const staleFrom = judgeOffer(
      { handoffId: 'y', from: { worldId: 'w', partitionId: 'A', epoch: 1 }, to: { worldId: 'w', partitionId: 'B', epoch: 2 }, entityId: 9, pos: { x: 150, y: 5 } },
      { owned: { ref: { worldId: 'w', partitionId: 'B', epoch: 2 }, rect: PARTS.B }, mapEpochOfFrom: 3, alreadyOwns: false, previous: undefined, config: CONFIG },
    )
    expect(staleFrom).toEqual({ accept: false, reason: 'stale_from_epoch' })
  })

  it('takes a handover of its own partition from an older owner wherever the entity stands, and only from an older one', () => {
    // The predecessor cannot give the entity to anyone else (other leaves refuse its old epoch), so
    // a refusal for the position would bounce it until the predecessor gave up.
    fc.assert(
      fc.property(fc.double({ min: -1_000, max: 1_000, noNaN: true }), fc.double({ min: -1_000, max: 1_000, noNaN: true }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (x, y, fromEpoch, ownEpoch) => {
        const verdict = judgeOffer(
          { handoffId: 'h', from: { worldId: 'w', partitionId: 'B', epoch: fromEpoch }, to: { worldId: 'w', partitionId: 'B', epoch: ownEpoch }, entityId: 1, pos: { x, y } },
          { owned: { ref: { worldId: 'w', partitionId: 'B', epoch: ownEpoch }, rect: PARTS.B }, mapEpochOfFrom: ownEpoch, alreadyOwns: false, previous: undefined, config: CONFIG },
        )
        expect(verdict).toEqual(fromEpoch < ownEpoch ? { accept: true, duplicate: false } : { accept: false, reason: 'stale_from_epoch' })
      }),
    )
  })
})
