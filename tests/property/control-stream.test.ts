import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeControlMessage, encodeControlMessage } from '../../core/wire/control-messages.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import { ControlStream } from '../../core/wire/control-stream.ts'
import { DecodeError } from '../../core/wire/errors.ts'

interface NetConfig {
  loss: number
  dup: number
  /** Max extra delay in ms; frames arrive out of order when it is > 0. */
  jitter: number
}

/** A lossy, duplicating, reordering link, driven by a seeded stream of decisions. */
class Link {
  private queue: { at: number; frame: Uint8Array }[] = []
  constructor(
    private readonly cfg: NetConfig,
    private readonly rand: () => number,
  ) {}

  send(frame: Uint8Array, now: number): void {
    if (this.rand() < this.cfg.loss) return
    const copies = this.rand() < this.cfg.dup ? 2 : 1
    for (let c = 0; c < copies; c++) this.queue.push({ at: now + 5 + this.rand() * this.cfg.jitter, frame })
  }

  deliver(now: number): Uint8Array[] {
    const due = this.queue.filter((f) => f.at <= now)
    this.queue = this.queue.filter((f) => f.at > now)
    return due.map((f) => f.frame)
  }
}

function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function payload(i: number): Uint8Array {
  return new TextEncoder().encode(`m${i}`)
}

describe('control stream', () => {
  it('delivers every message exactly once, in order, under loss, duplication and reordering', () => {
    fc.assert(
      fc.property(
        fc.record({
          loss: fc.double({ min: 0, max: 0.6, noNaN: true }),
          dup: fc.double({ min: 0, max: 0.5, noNaN: true }),
          jitter: fc.integer({ min: 0, max: 400 }),
        }),
        fc.integer({ min: 1, max: 120 }),
        fc.nat(),
        (cfg, count, seed) => {
          const rand = seeded(seed)
          const a = new ControlStream({ window: 8, maxOutOfOrder: 16 })
          const b = new ControlStream({ window: 8, maxOutOfOrder: 16 })
          const ab = new Link(cfg, rand)
          const ba = new Link(cfg, rand)
          const gotB: string[] = []
          const gotA: string[] = []
          let sentA = 0
          let sentB = 0
          const dec = new TextDecoder()
          for (let now = 0; now < 600_000; now += 10) {
            // Each side sends messages at random moments, both ways at once.
            if (sentA < count && rand() < 0.3) expect(a.send(payload(sentA++))).toBe(true)
            if (sentB < count && rand() < 0.3) expect(b.send(payload(sentB++))).toBe(true)
            for (let f = a.poll(now); f !== null; f = a.poll(now)) ab.send(f, now)
            for (let f = b.poll(now); f !== null; f = b.poll(now)) ba.send(f, now)
            for (const f of ab.deliver(now)) {
              const out = b.receive(f)
              if (out instanceof DecodeError) throw new Error(out.toString())
              for (const m of out) gotB.push(dec.decode(m))
            }
            for (const f of ba.deliver(now)) {
              const out = a.receive(f)
              if (out instanceof DecodeError) throw new Error(out.toString())
              for (const m of out) gotA.push(dec.decode(m))
            }
            if (sentA === count && sentB === count && a.idle && b.idle && gotA.length === count && gotB.length === count) break
          }
          const expected = Array.from({ length: count }, (_, i) => `m${i}`)
          expect(gotB).toEqual(expected)
          expect(gotA).toEqual(expected)
          expect(a.idle && b.idle).toBe(true)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('respects the window and the backlog bound', () => {
    const a = new ControlStream({ window: 4, maxBacklog: 6 })
    for (let i = 0; i < 6; i++) expect(a.send(payload(i))).toBe(true)
    expect(a.send(payload(6))).toBe(false)
    const frames: Uint8Array[] = []
    for (let f = a.poll(0); f !== null; f = a.poll(0)) frames.push(f)
    const b = new ControlStream()
    const got = frames.flatMap((f) => b.receive(f) as Uint8Array[])
    expect(got).toHaveLength(4)
    expect(a.stats()).toMatchObject({ inFlight: 4, backlog: 2 })
    // Nothing is resent before the timeout.
    expect(a.poll(100)).toBeNull()
    expect(a.poll(250)).not.toBeNull()
  })

  it('rejects malformed frames without changing state', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const s = new ControlStream()
        const out = s.receive(bytes)
        if (!(out instanceof DecodeError)) expect(Array.isArray(out)).toBe(true)
      }),
      { numRuns: 2000 },
    )
    const s = new ControlStream()
    expect(s.receive(Uint8Array.of(5, 0, 0, 0, 0, 0))).toBeInstanceOf(DecodeError)
  })
})

describe('control messages', () => {
  it('round-trip through JSON with validation', () => {
    const msgs: ControlMessage[] = [
      { kind: 'join-accepted', entityId: 4, worldId: 'w1', partition: 'p3', tick: 100, tickRate: 20 },
      { kind: 'error', code: 'room_full', message: 'full' },
      { kind: 'migrate', url: 'http://127.0.0.1:9000', ticket: 'a.b.c', worldId: 'w1' },
      { kind: 'stay', worldId: 'w1' },
      { kind: 'kick', code: 'kicked', reason: 'idle' },
      { kind: 'bye', code: 'going_away' },
    ]
    for (const m of msgs) expect(decodeControlMessage(encodeControlMessage(m))).toEqual(m)
  })

  it('refuses unknown kinds, bad codes and junk', () => {
    const enc = new TextEncoder()
    for (const junk of ['{"kind":"nope"}', '{"kind":"error","code":"zzz","message":""}', '[1,2]', 'not json', '{"kind":"join-accepted"}', '{"kind":"stay"}', '{"kind":"stay","worldId":""}']) {
      expect(decodeControlMessage(enc.encode(junk))).toBeInstanceOf(DecodeError)
    }
    expect(decodeControlMessage(Uint8Array.of(0xff, 0xfe))).toBeInstanceOf(DecodeError)
  })
})
