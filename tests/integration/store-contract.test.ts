/**
 * The cluster store contract: one suite, run against every implementation. Anything the rest of
 * Tessera relies on from the store is proven here for both etcd and the in-memory store.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterEpoch } from '../../core/cluster-clock.ts'
import { Election } from '../../core/store/election.ts'
import { LeaseExpiredError, StoreAbortedError } from '../../core/store/errors.ts'
import { EtcdStore } from '../../core/store/etcd.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { MemoryStore } from '../../core/store/memory.ts'
import type { ClusterStore, WatchEvent } from '../../core/store/types.ts'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { ManualClock } from '../helpers/manual-clock.ts'

/** One implementation under test. */
interface Harness {
  start(): Promise<ClusterStore>
  /** Let `ms` of lease time pass: a manual clock for memory, real time for etcd. */
  elapse(ms: number): Promise<void>
  /** CAS property runs (each is a handful of round trips). */
  casRuns: number
  stop(): Promise<void>
}

// etcd clamps lease TTLs to at least 2 s with its default heartbeat (1.5 s rounded up).
const TTL_SECONDS = 2

function memoryHarness(): Harness {
  const clock = new ManualClock()
  let store: MemoryStore | undefined
  return {
    async start() {
      store = new MemoryStore({ clock })
      return store
    },
    async elapse(ms) {
      clock.advance(ms)
    },
    casRuns: 100,
    async stop() {
      await store?.close()
    },
  }
}

function etcdHarness(): Harness {
  let member: EtcdMember | undefined
  let store: EtcdStore | undefined
  return {
    async start() {
      member = await startEtcd()
      store = new EtcdStore({ endpoints: [member.endpoint] })
      return store
    },
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    casRuns: 15,
    async stop() {
      await store?.close()
      await member?.stop()
    },
  }
}

/** Poll `check` until it returns true (or throw after `timeoutMs`). */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Watch `prefix` and collect its events. */
function collect(store: ClusterStore, prefix: string, fromRevision?: number) {
  const events: WatchEvent[] = []
  const errors: Error[] = []
  const watch = store.watch(prefix, { fromRevision, onEvents: (batch) => events.push(...batch), onError: (err) => errors.push(err) })
  return { events, errors, watch }
}

const describeLabel = (e: WatchEvent): string => (e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}` : `delete ${e.key}`)

let unique = 0
/** A key prefix no other test uses, so tests share one store without seeing each other. */
const freshPrefix = (name: string): string => `/contract/${name}-${++unique}/`

describe.each([
  { kind: 'memory', harness: memoryHarness },
  { kind: 'etcd', harness: etcdHarness },
])('cluster store contract ($kind)', ({ harness: makeHarness }) => {
  const harness = makeHarness()
  let store: ClusterStore

  beforeAll(async () => {
    store = await harness.start()
  })
  afterAll(async () => {
    await harness.stop()
  })

  describe('key-value', () => {
    it('get returns undefined for a missing key and the stored value after put', async () => {
      const p = freshPrefix('get')
      expect(await store.get(`${p}a`)).toBeUndefined()
      const revision = await store.put(`${p}a`, 'one')
      expect(await store.get(`${p}a`)).toEqual({ key: `${p}a`, value: 'one', createRevision: revision, modRevision: revision, version: 1 })
    })

    it('put bumps version and modRevision, keeps createRevision; revisions strictly increase', async () => {
      const p = freshPrefix('revisions')
      const r1 = await store.put(`${p}a`, '1')
      const r2 = await store.put(`${p}a`, '2')
      const r3 = await store.put(`${p}b`, '3')
      expect(r2).toBeGreaterThan(r1)
      expect(r3).toBeGreaterThan(r2)
      expect(await store.get(`${p}a`)).toMatchObject({ value: '2', createRevision: r1, modRevision: r2, version: 2 })
      const { revision } = await store.range(p)
      expect(revision).toBeGreaterThanOrEqual(r3)
    })

    it('range returns exactly the keys under a prefix, in key order', async () => {
      const p = freshPrefix('range')
      await store.put(`${p}b`, 'B')
      await store.put(`${p}a`, 'A')
      await store.put(`${p}a/nested`, 'N')
      await store.put(`${p.slice(0, -1)}x`, 'outside')
      const { kvs } = await store.range(p)
      expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([
        [`${p}a`, 'A'],
        [`${p}a/nested`, 'N'],
        [`${p}b`, 'B'],
      ])
    })

    it('delete and deletePrefix report what they removed', async () => {
      const p = freshPrefix('delete')
      await store.put(`${p}a`, '1')
      await store.put(`${p}sub/x`, '2')
      await store.put(`${p}sub/y`, '3')
      expect(await store.delete(`${p}a`)).toBe(true)
      expect(await store.delete(`${p}a`)).toBe(false)
      expect(await store.deletePrefix(`${p}sub/`)).toBe(2)
      expect(await store.deletePrefix(`${p}sub/`)).toBe(0)
      expect((await store.range(p)).kvs).toEqual([])
    })
  })

  describe('transactions', () => {
    it('compares on value', async () => {
      const key = `${freshPrefix('txn-value')}k`
      await store.put(key, 'v1')
      const miss = await store.txn({
        compare: [{ key, target: 'value', op: '==', value: 'other' }],
        success: [{ type: 'put', key, value: 'bad' }],
        failure: [{ type: 'get', key }],
      })
      expect(miss.succeeded).toBe(false)
      expect(miss.reads.map((kv) => kv?.value)).toEqual(['v1'])
      const hit = await store.txn({
        compare: [{ key, target: 'value', op: '==', value: 'v1' }],
        success: [{ type: 'put', key, value: 'v2' }],
      })
      expect(hit.succeeded).toBe(true)
      expect(await store.get(key)).toMatchObject({ value: 'v2', modRevision: hit.revision })
    })

    it('compares on createRevision (existence) and version', async () => {
      const p = freshPrefix('txn-exists')
      const key = `${p}k`
      const createIfMissing = () =>
        store.txn({
          compare: [{ key, target: 'createRevision', op: '==', value: 0 }],
          success: [{ type: 'put', key, value: 'created' }],
          failure: [{ type: 'get', key }],
        })
      const first = await createIfMissing()
      const second = await createIfMissing()
      expect(first.succeeded).toBe(true)
      expect(second.succeeded).toBe(false)
      expect(second.reads[0]).toMatchObject({ value: 'created', createRevision: first.revision, version: 1 })
      expect(second.revision).toBe(first.revision)

      const bumped = await store.txn({
        compare: [{ key, target: 'version', op: '==', value: 1 }],
        success: [
          { type: 'put', key, value: 'second' },
          { type: 'put', key: `${p}other`, value: 'x' },
        ],
      })
      expect(bumped.succeeded).toBe(true)
      expect(await store.get(key)).toMatchObject({ value: 'second', version: 2 })
      // Both writes of one transaction share its revision.
      expect(await store.get(`${p}other`)).toMatchObject({ modRevision: bumped.revision })
      const stale = await store.txn({ compare: [{ key, target: 'version', op: '<', value: 2 }], success: [{ type: 'delete', key }] })
      expect(stale.succeeded).toBe(false)
    })

    it('compares on modRevision, and runs delete, deletePrefix and get ops', async () => {
      const p = freshPrefix('txn-mod')
      const key = `${p}k`
      const rev = await store.put(key, 'v')
      await store.put(`${p}d/1`, '1')
      await store.put(`${p}d/2`, '2')
      const res = await store.txn({
        compare: [{ key, target: 'modRevision', op: '==', value: rev }],
        success: [
          { type: 'get', key },
          { type: 'delete', key },
          { type: 'deletePrefix', prefix: `${p}d/` },
          { type: 'get', key: `${p}missing` },
        ],
      })
      expect(res.succeeded).toBe(true)
      expect(res.reads).toEqual([expect.objectContaining({ key, value: 'v' }), undefined])
      expect((await store.range(p)).kvs).toEqual([])
      const again = await store.txn({ compare: [{ key, target: 'modRevision', op: '>', value: 0 }], success: [{ type: 'put', key, value: 'x' }] })
      expect(again.succeeded).toBe(false)
    })

    it('a value comparison on a missing key fails, whatever the operator', async () => {
      const key = `${freshPrefix('txn-missing')}k`
      for (const op of ['==', '!=', '<', '>'] as const) {
        const res = await store.txn({ compare: [{ key, target: 'value', op, value: 'x' }], success: [{ type: 'put', key, value: op }] })
        expect(res.succeeded).toBe(false)
      }
      expect(await store.get(key)).toBeUndefined()
    })

    it('concurrent compare-and-swap: exactly one writer wins, whatever the interleaving', async () => {
      const p = freshPrefix('cas')
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 8 }), async (s, writers) => {
          const key = `${p}${run++}`
          const rev = await store.put(key, 'initial')
          const attempts = Array.from({ length: writers }, (_, i) =>
            s.schedule(Promise.resolve(`writer-${i}`)).then(async (value) => {
              const res = await store.txn({
                compare: [{ key, target: 'modRevision', op: '==', value: rev }],
                success: [{ type: 'put', key, value }],
              })
              return { value, won: res.succeeded }
            }),
          )
          await s.waitAll()
          const results = await Promise.all(attempts)
          const winners = results.filter((r) => r.won)
          expect(winners).toHaveLength(1)
          expect((await store.get(key))?.value).toBe(winners[0]?.value)
        }),
        { numRuns: harness.casRuns },
      )
    })
  })

  describe('cluster clock', () => {
    it('the first to ask writes the tick epoch; everyone, at once or later, reads that one', async () => {
      const keys = scopedKeys(freshPrefix('clock'))
      const asked = await Promise.all([1_000_500, 2_000_000, 3_000_000].map((now) => clusterEpoch(store, keys, now)))
      expect(new Set(asked).size).toBe(1)
      expect([1_000_000, 2_000_000, 3_000_000]).toContain(asked[0])
      expect(await clusterEpoch(store, keys, 9_000_000)).toBe(asked[0])
      await store.put(keys.clock(), '{"epochMs":"soon"}')
      await expect(clusterEpoch(store, keys)).rejects.toThrow(/bad record at .*clock: epochMs/)
    })
  })

  describe('watch', () => {
    it('delivers live puts and deletes in order', async () => {
      const p = freshPrefix('watch-live')
      const { events, errors, watch } = collect(store, p)
      await watch.ready
      await store.put(`${p}a`, '1')
      await store.put(`${p}a`, '2')
      await store.delete(`${p}a`)
      await store.put(`${freshPrefix('elsewhere')}a`, 'not watched')
      await eventually(() => events.length >= 3, 10_000, 'three events')
      expect(events.map(describeLabel)).toEqual([`put ${p}a=1`, `put ${p}a=2`, `delete ${p}a`])
      const deleteEvent = events[2]
      expect(deleteEvent?.type === 'delete' && deleteEvent.prev?.value).toBe('2')
      expect(errors).toEqual([])
      await watch.cancel()
    })

    it('from a revision replays history in order without repeats, then goes live', async () => {
      const p = freshPrefix('watch-history')
      const first = await store.put(`${p}a`, '1')
      await store.put(`${p}b`, '2')
      await store.delete(`${p}a`)
      const { events, watch } = collect(store, p, first)
      await watch.ready
      await store.put(`${p}c`, '3')
      await eventually(() => events.length >= 4, 10_000, 'history and live events')
      expect(events.map(describeLabel)).toEqual([`put ${p}a=1`, `put ${p}b=2`, `delete ${p}a`, `put ${p}c=3`])
      const revisions = events.map((e) => e.revision)
      expect([...revisions].sort((a, b) => a - b)).toEqual(revisions)
      expect(new Set(revisions).size).toBe(revisions.length)
      await watch.cancel()
      // Nothing after cancel.
      await store.put(`${p}d`, '4')
      await store.get(`${p}d`)
      expect(events).toHaveLength(4)
    })
  })

  describe('leases', () => {
    it('keep-alive keeps keys alive past the TTL', async () => {
      const key = `${freshPrefix('lease-keepalive')}k`
      const lease = await store.grantLease(TTL_SECONDS)
      await store.put(key, 'alive', { lease: lease.id })
      await harness.elapse(TTL_SECONDS * 1500)
      expect(lease.isLost).toBe(false)
      expect(await store.get(key)).toMatchObject({ value: 'alive', lease: lease.id })
      await lease.revoke()
    })

    it('expiry removes the keys in one revision and notifies watchers', async () => {
      const p = freshPrefix('lease-expiry')
      const lease = await store.grantLease(TTL_SECONDS, { keepAlive: false })
      await store.put(`${p}a`, '1', { lease: lease.id })
      await store.put(`${p}b`, '2', { lease: lease.id })
      const { events, watch } = collect(store, p)
      await watch.ready
      await harness.elapse(TTL_SECONDS * 1000 + 100)
      await eventually(() => events.length >= 2, 10_000, 'delete events')
      expect(events.map(describeLabel)).toEqual([`delete ${p}a`, `delete ${p}b`])
      expect(events[0]?.revision).toBe(events[1]?.revision)
      await lease.lost
      expect(lease.isLost).toBe(true)
      expect((await store.range(p)).kvs).toEqual([])
      await expect(store.put(`${p}c`, '3', { lease: lease.id })).rejects.toBeInstanceOf(LeaseExpiredError)
      await watch.cancel()
    })

    it('release stops renewing: lost resolves at once, the keys go when the TTL runs out', async () => {
      const p = freshPrefix('lease-release')
      const lease = await store.grantLease(TTL_SECONDS)
      await store.put(`${p}a`, '1', { lease: lease.id })
      const { events, watch } = collect(store, p)
      await watch.ready
      lease.release()
      lease.release() // idempotent
      await lease.lost
      expect(lease.isLost).toBe(true)
      expect(await store.get(`${p}a`)).toBeDefined()
      await harness.elapse(TTL_SECONDS * 1000 + 100)
      await eventually(() => events.length >= 1, 10_000, 'the delete at expiry')
      expect(events.map(describeLabel)).toEqual([`delete ${p}a`])
      await watch.cancel()
    })

    it('a put without a lease detaches the key from its lease', async () => {
      const key = `${freshPrefix('lease-detach')}k`
      const lease = await store.grantLease(TTL_SECONDS)
      await store.put(key, 'leased', { lease: lease.id })
      await store.put(key, 'free')
      expect((await store.get(key))?.lease).toBeUndefined()
      await lease.revoke()
      expect(await store.get(key)).toMatchObject({ value: 'free', version: 2 })
    })

    it('revoke deletes the keys and resolves lost', async () => {
      const p = freshPrefix('lease-revoke')
      const lease = await store.grantLease(TTL_SECONDS)
      await store.put(`${p}a`, '1', { lease: lease.id })
      await lease.revoke()
      await lease.lost
      await lease.revoke() // idempotent
      expect(await store.get(`${p}a`)).toBeUndefined()
      await expect(store.put(`${p}b`, '2', { lease: lease.id })).rejects.toMatchObject({ code: 'lease_expired' })
    })
  })

  describe('election', () => {
    it('the first candidate leads, the second waits; observe reports the leader; resign hands over', async () => {
      const election = new Election(store, freshPrefix('election').slice(0, -1))
      const [la, lb] = await Promise.all([store.grantLease(TTL_SECONDS), store.grantLease(TTL_SECONDS)])
      const seen: (string | undefined)[] = []
      const observation = election.observe((value) => seen.push(value))
      await observation.ready
      expect(await election.leader()).toBeUndefined()

      const a = await election.campaign('a', la)
      let bLeads = false
      const bCampaign = election.campaign('b', lb).then((leadership) => {
        bLeads = true
        return leadership
      })
      await eventually(() => seen.at(-1) === 'a', 10_000, 'observer to see a')
      // b's candidacy is registered (a round trip later) yet a still leads.
      await eventually(async () => (await store.range(election.prefix)).kvs.length === 2, 10_000, 'two candidates')
      expect(await election.leader()).toBe('a')
      expect(bLeads).toBe(false)

      await a.proclaim('a2')
      await eventually(() => seen.at(-1) === 'a2', 10_000, 'observer to see a2')

      await a.resign()
      expect(a.isLost).toBe(true)
      const b = await bCampaign
      expect(await election.leader()).toBe('b')
      await eventually(() => seen.at(-1) === 'b', 10_000, 'observer to see b')
      expect(seen).toEqual([undefined, 'a', 'a2', 'b'])

      await b.resign()
      await observation.cancel()
      await Promise.all([la.revoke(), lb.revoke()])
    })

    it('hands over when the leader lease is revoked', async () => {
      const election = new Election(store, freshPrefix('election-revoke').slice(0, -1))
      const [la, lb] = await Promise.all([store.grantLease(TTL_SECONDS), store.grantLease(TTL_SECONDS)])
      const a = await election.campaign('a', la)
      const bCampaign = election.campaign('b', lb)
      await la.revoke()
      await a.lost
      const b = await bCampaign
      expect(await election.leader()).toBe('b')
      await b.resign()
      await lb.revoke()
    })

    it('hands over when the leader stops renewing its lease', async () => {
      const election = new Election(store, freshPrefix('election-expiry').slice(0, -1))
      const la = await store.grantLease(TTL_SECONDS, { keepAlive: false })
      const lb = await store.grantLease(TTL_SECONDS)
      const a = await election.campaign('a', la)
      const bCampaign = election.campaign('b', lb)
      await eventually(async () => (await store.range(election.prefix)).kvs.length === 2, 10_000, 'two candidates')
      await harness.elapse(TTL_SECONDS * 1000 + 100)
      await a.lost
      const b = await bCampaign
      expect(await election.leader()).toBe('b')
      await b.resign()
      await lb.revoke()
    })

    it('an aborted or lease-less campaign is withdrawn', async () => {
      const election = new Election(store, freshPrefix('election-abort').slice(0, -1))
      const [la, lb] = await Promise.all([store.grantLease(TTL_SECONDS), store.grantLease(TTL_SECONDS)])
      const a = await election.campaign('a', la)
      const abort = new AbortController()
      const bCampaign = election.campaign('b', lb, abort.signal)
      await eventually(async () => (await store.range(election.prefix)).kvs.length === 2, 10_000, 'two candidates')
      abort.abort()
      await expect(bCampaign).rejects.toBeInstanceOf(StoreAbortedError)
      expect((await store.range(election.prefix)).kvs.map((kv) => kv.value)).toEqual(['a'])
      await lb.revoke()
      await expect(election.campaign('b', lb)).rejects.toBeInstanceOf(LeaseExpiredError)
      await a.resign()
      await la.revoke()
    })
  })
})
