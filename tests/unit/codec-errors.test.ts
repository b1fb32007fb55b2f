/**
 * A game's state codec that throws for one entity costs that entity, not its tick or its border:
 * a handoff it cannot make (the sender cannot encode it, or the receiver cannot decode it) leaves
 * it with its sender, simulated there, one copy in all. Before, the error left the border: the
 * tick's border work stopped half-way, and an entity whose offer could not be encoded was held out
 * of its simulation for good. Ghost batches do not use the codec at all (they carry positions and
 * snapshot fields, not game state). Likewise its message codec: a message between workers that it cannot
 * encode or decode is dropped alone; before, the error stopped the sending border's tick work or
 * the receiving border's frame handling (and the messages after it).
 *
 * The world is split at x = 100: p1 (west) and p2 (east), on wA and wB as each test says.
 */
import { describe, expect, it } from 'vitest'
import { createDemoGame } from '../../worker/game/demo.ts'
import type { DemoMessage, DemoState } from '../../worker/game/demo.ts'
import type { EntityId, Game, StateCodec } from '../../worker/game/types.ts'
import { jsonCodec } from '../../worker/neighbours/codec.ts'
import type { PartitionRunner } from '../../worker/partition-runner.ts'
import { splitMap } from '../helpers/test-maps.ts'
import { borderOf, runner, twoWorkers } from '../helpers/two-borders.ts'

/** Demo state, with a mark the codec below fails on. */
type State = DemoState & { poison?: 'encode' | 'decode' }

/**
 * The demo game (walkers standing still) with a JSON codec that throws encoding a state marked
 * `encode` and decoding one marked `decode`; `encodes` counts the marked states it tried to encode.
 */
function poisonGame() {
  const json = jsonCodec<State>()
  const tries = { encodes: 0 }
  const state: StateCodec<State> = {
    encode(s) {
      if (s.poison === 'encode') {
        tries.encodes++
        throw new Error('cannot encode')
      }
      return json.encode(s)
    },
    decode(bytes) {
      const s = json.decode(bytes)
      if (s.poison === 'decode') throw new Error('cannot decode')
      return s
    },
  }
  const game = { ...createDemoGame({ walkerSpeed: [0, 0] }), codec: { state, message: jsonCodec<DemoMessage>() } } as unknown as Game<State, DemoMessage>
  return { game, tries }
}

function mark(r: PartitionRunner<unknown, unknown>, id: number, poison: State['poison']): void {
  const e = r.sim.entity(id)
  if (!e) throw new Error(`no entity ${id}`)
  ;(e.state as State).poison = poison
}

describe('ghost batches', () => {
  it('carry no game state: an entity the codec fails on goes out like the rest, the codec not asked', () => {
    const { game, tries } = poisonGame()
    const runners: PartitionRunner<unknown, unknown>[] = []
    const { border, sent } = borderOf('wA', splitMap('wA', 1), runners)
    const p1 = runner('p1', game, border)
    runners.push(p1)
    // All three within the ghost margin of p2 (wB's), none past the border.
    const [a, bad, c] = [30, 50, 70].map((y) => p1.sim.spawnNpc({ x: 95, y })) as [number, number, number]
    mark(p1, bad, 'encode')
    for (let tick = 1; tick <= 3; tick++) {
      border.beforeTick(tick)
      p1.tick()
      expect(() => border.afterTick()).not.toThrow()
    }
    const batches = sent.flatMap((s) => (s.peer === 'wB' && s.frame.frame?.$case === 'ghosts' ? [s.frame.frame.value.ghosts.map((g) => g.id)] : []))
    expect(batches).toEqual([[a, bad, c], [a, bad, c], [a, bad, c]])
    expect(tries.encodes).toBe(0)
    expect(p1.gameErrors).toBe(0)
  })
})

describe('a handoff the codec fails on', () => {
  it('is not made when the sender cannot encode the entity: it stays simulated there, and is tried again only after the retry wait', () => {
    const { game, tries } = poisonGame()
    const w = twoWorkers(game)
    // 6 units into p2, past the 4-unit band: offered at the first tick boundary.
    const id = w.p1.sim.spawnNpc({ x: 106, y: 50 })
    mark(w.p1, id, 'encode')
    for (let t = 1; t <= 12; t++) {
      expect(() => w.step()).not.toThrow()
      expect(w.copies(id)).toEqual(['p1'])
    }
    expect(w.offers).toHaveLength(0)
    expect(w.a.stats.handoffsOut).toBe(0)
    // Tried at ticks 1, 6 and 11 (5 ticks apart, as after a refusal), each costing one error.
    expect(tries.encodes).toBe(3)
    expect(w.p1.gameErrors).toBe(3)
    expect(w.p1.sim.tick).toBe(11)

    // Once the game can encode it, it goes as usual.
    mark(w.p1, id, undefined)
    for (let t = 1; t <= 5; t++) w.step()
    expect(w.copies(id)).toEqual(['p2'])
  })

  it('is refused when the receiver cannot decode the entity: the sender keeps it, the receiver has none', () => {
    const { game } = poisonGame()
    const w = twoWorkers(game)
    const id = w.p1.sim.spawnNpc({ x: 106, y: 50 })
    mark(w.p1, id, 'decode')
    expect(() => w.step()).not.toThrow()
    // Offered, refused and taken back within the tick boundary.
    expect(w.offers).toHaveLength(1)
    expect(w.b.stats.refused).toEqual({ invalid: 1 })
    expect(w.b.stats.handoffsIn).toBe(0)
    expect(w.p2.gameErrors).toBe(1)
    expect(w.copies(id)).toEqual(['p1'])
    for (let t = 2; t <= 12; t++) {
      expect(() => w.step()).not.toThrow()
      expect(w.copies(id)).toEqual(['p1'])
    }
    // Offered again after each retry wait, refused each time.
    expect(w.offers).toHaveLength(3)
    expect(w.b.stats.refused).toEqual({ invalid: 3 })
    expect(w.p2.sim.entityCount).toBe(0)
    expect(w.p1.sim.entity(id)?.x).toBe(106)
  })
})

/** A note from one entity to another; the codec below fails on one marked `encode` or `decode`. */
type Note = { n: number; poison?: 'encode' | 'decode' }

/**
 * Standing walkers whose game sends the notes `post` queues, from p1's entities, and records the
 * notes it is given (`received`: [to, n]); its message codec is JSON, except for marked notes.
 */
function notesGame() {
  const json = jsonCodec<Note>()
  const message: StateCodec<Note> = {
    encode(m) {
      if (m.poison === 'encode') throw new Error('cannot encode')
      return json.encode(m)
    },
    decode(bytes) {
      const m = json.decode(bytes)
      if (m.poison === 'decode') throw new Error('cannot decode')
      return m
    },
  }
  const queued: Array<{ from: EntityId; to: EntityId; note: Note }> = []
  const received: Array<[EntityId, number]> = []
  const game: Game<State, Note> = {
    ...(createDemoGame({ walkerSpeed: [0, 0] }) as unknown as Game<State, Note>),
    tick(ctx) {
      for (const q of queued) if (ctx.get(q.from)) ctx.send(q.from, q.to, q.note)
      queued.length = 0
    },
    message(_ctx, _from, to, note) {
      received.push([to.id, note.n])
    },
    codec: { state: jsonCodec<State>(), message },
  }
  const post = (from: EntityId, to: EntityId, ...notes: Note[]) => {
    for (const note of notes) queued.push({ from, to, note })
  }
  return { game, post, received }
}

/** wA's p1 with one sender; wB's p2 with three targets just past the border, ghosts on wA. */
function notesWorld() {
  const { game, post, received } = notesGame()
  const w = twoWorkers(game)
  const sender = w.p1.sim.spawnNpc({ x: 95, y: 50 })
  const targets = [20, 50, 80].map((y) => w.p2.sim.spawnNpc({ x: 101, y })) as [EntityId, EntityId, EntityId]
  // Tick 1: p2's ghosts reach wA, so p1's game sees its targets at tick 2.
  w.step()
  return { ...w, game, post, received, sender, targets }
}

/** Notes 1 to 4 from the sender to its three targets (2 and 3 to the second); note 2 is marked `poison`. */
function postFour(w: ReturnType<typeof notesWorld>, poison: Note['poison']): void {
  const [t1, t2, t3] = w.targets
  w.post(w.sender, t1, { n: 1 })
  w.post(w.sender, t2, { n: 2, poison }, { n: 3 })
  w.post(w.sender, t3, { n: 4 })
}

describe('a message between workers the codec fails on', () => {
  it('is dropped by its sender when the game cannot encode it: the others arrive, and the tick’s border work goes on', () => {
    const w = notesWorld()
    const [t1, t2, t3] = w.targets
    postFour(w, 'encode')
    // Past the border and the hysteresis band: offered in the same afterTick, after the messages.
    const crosser = w.p1.sim.spawnNpc({ x: 106, y: 10 })
    expect(() => w.step(false)).not.toThrow()
    expect(w.p1.sim.ghosts().map((g) => g.id)).toEqual(w.targets)
    expect(w.a.stats.messagesDropped).toBe(1)
    expect(w.a.stats.messagesOut).toBe(3)
    expect(w.p1.gameErrors).toBe(1)
    expect(w.offers).toHaveLength(1)
    w.deliver()
    w.step()
    expect(w.received).toEqual([[t1, 1], [t2, 3], [t3, 4]])
    expect(w.copies(crosser)).toEqual(['p2'])
    // Nobody else is touched: every entity where it was, no other error.
    for (const t of w.targets) expect(w.copies(t)).toEqual(['p2'])
    expect(w.copies(w.sender)).toEqual(['p1'])
    expect(w.p2.gameErrors).toBe(0)
    expect(w.b.stats.messagesDropped).toBe(0)
  })

  it('is dropped where it arrives when the game cannot decode it: the others in the same frames are delivered', () => {
    const w = notesWorld()
    const [t1, t2, t3] = w.targets
    postFour(w, 'decode')
    w.step(false)
    expect(w.p1.sim.ghosts().map((g) => g.id)).toEqual(w.targets)
    expect(w.a.stats.messagesOut).toBe(4)
    // The frame handler takes all four in, and drops the one it cannot decode.
    expect(() => w.deliver()).not.toThrow()
    expect(w.b.stats.messagesDropped).toBe(1)
    expect(w.p2.gameErrors).toBe(1)
    w.step()
    expect(w.received).toEqual([[t1, 1], [t2, 3], [t3, 4]])
    for (const t of w.targets) expect(w.copies(t)).toEqual(['p2'])
    expect(w.copies(w.sender)).toEqual(['p1'])
    expect(w.p1.gameErrors).toBe(0)
    expect(w.a.stats.messagesDropped).toBe(0)
  })
})
