/**
 * MemoryStore specifics the shared contract cannot pin down: lease timing on fake timers, history
 * compaction, asynchronous watch delivery, atomic failure and closing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CompactedError, LeaseExpiredError, StoreClosedError } from '../../core/store/errors.ts'
import { MemoryStore } from '../../core/store/memory.ts'
import type { WatchEvent } from '../../core/store/types.ts'
import { ManualClock } from '../helpers/manual-clock.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('MemoryStore leases on fake timers', () => {
  it('a lease without keep-alive expires exactly at its TTL, deleting its keys', async () => {
    vi.useFakeTimers()
    const store = new MemoryStore()
    const lease = await store.grantLease(5, { keepAlive: false })
    await store.put('/k', 'v', { lease: lease.id })
    await vi.advanceTimersByTimeAsync(4_999)
    expect(await store.get('/k')).toBeDefined()
    expect(lease.isLost).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await store.get('/k')).toBeUndefined()
    expect(lease.isLost).toBe(true)
    await lease.lost
    await store.close()
  })

  it('keep-alive renews for as long as the store runs; close stops every timer', async () => {
    vi.useFakeTimers()
    const store = new MemoryStore()
    const lease = await store.grantLease(3)
    await store.put('/k', 'v', { lease: lease.id })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(await store.get('/k')).toMatchObject({ lease: lease.id })
    await store.close()
    expect(lease.isLost).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('with a manual clock, expiry of several leases is ordered by deadline', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const short = await store.grantLease(1, { keepAlive: false })
    const long = await store.grantLease(2, { keepAlive: false })
    await store.put('/a', '1', { lease: short.id })
    await store.put('/b', '2', { lease: long.id })
    const events: WatchEvent[] = []
    store.watch('/', { onEvents: (batch) => events.push(...batch) })
    clock.advance(2_000)
    await Promise.resolve()
    expect(events.map((e) => (e.type === 'delete' ? e.key : '?'))).toEqual(['/a', '/b'])
    expect(events[0]?.revision).toBeLessThan(events[1]?.revision ?? 0)
    await store.close()
    expect(clock.pending).toBe(0)
  })
})

describe('MemoryStore history', () => {
  it('watching from a compacted revision reports CompactedError; recent revisions still replay', async () => {
    const store = new MemoryStore({ historyLimit: 10 })
    const first = await store.put('/k', '0')
    let last = first
    for (let i = 1; i < 30; i++) last = await store.put('/k', String(i))
    const errors: Error[] = []
    store.watch('/', { fromRevision: first, onEvents: () => undefined, onError: (err) => errors.push(err) })
    const replayed: WatchEvent[] = []
    store.watch('/', { fromRevision: last - 2, onEvents: (batch) => replayed.push(...batch) })
    await Promise.resolve()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(CompactedError)
    expect(errors[0]).toMatchObject({ code: 'compacted', retryable: false })
    expect(replayed.map((e) => e.revision)).toEqual([last - 2, last - 1, last])
    await store.close()
  })

  it('compact(revision) discards history up to it', async () => {
    const store = new MemoryStore()
    const r1 = await store.put('/a', '1')
    const r2 = await store.put('/a', '2')
    store.compact(r1)
    const errors: Error[] = []
    const events: WatchEvent[] = []
    store.watch('/', { fromRevision: r1, onEvents: () => undefined, onError: (err) => errors.push(err) })
    store.watch('/', { fromRevision: r2, onEvents: (batch) => events.push(...batch) })
    await Promise.resolve()
    expect(errors[0]).toBeInstanceOf(CompactedError)
    expect(events.map((e) => e.revision)).toEqual([r2])
    await store.close()
  })
})

describe('MemoryStore watch delivery and atomicity', () => {
  it('delivers events after the write returns, so a callback can write without re-entering', async () => {
    const store = new MemoryStore()
    const seen: string[] = []
    store.watch('/in/', {
      onEvents: (batch) => {
        for (const e of batch) if (e.type === 'put') seen.push(e.kv.key)
        void store.put('/out/echo', 'x')
      },
    })
    const write = store.put('/in/a', '1')
    expect(seen).toEqual([])
    await write
    await Promise.resolve()
    expect(seen).toEqual(['/in/a'])
    await vi.waitFor(async () => expect(await store.get('/out/echo')).toBeDefined())
    await store.close()
  })

  it('a transaction that fails validation writes nothing', async () => {
    const store = new MemoryStore()
    const before = store.currentRevision
    await expect(
      store.txn({
        compare: [],
        success: [
          { type: 'put', key: '/a', value: '1' },
          { type: 'put', key: '/b', value: '2', lease: 'no-such-lease' },
        ],
      }),
    ).rejects.toBeInstanceOf(LeaseExpiredError)
    expect(store.currentRevision).toBe(before)
    expect(await store.get('/a')).toBeUndefined()
    await store.close()
  })

  it('close ends watches with StoreClosedError and rejects later calls', async () => {
    const store = new MemoryStore()
    const errors: Error[] = []
    store.watch('/', { onEvents: () => undefined, onError: (err) => errors.push(err) })
    const lease = await store.grantLease(10)
    await store.close()
    await store.close()
    await Promise.resolve()
    expect(errors[0]).toBeInstanceOf(StoreClosedError)
    expect(lease.isLost).toBe(true)
    await expect(store.get('/a')).rejects.toMatchObject({ code: 'closed' })
  })
})
