/**
 * etcd dies (SIGKILL) and comes back on the same ports and data: calls fail fast with a retryable
 * `StoreUnavailableError` while it is down, succeed again once it is back, and a watch opened
 * before the outage delivers every later write exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/store/errors.ts'
import { EtcdStore } from '../../core/store/etcd.ts'
import type { WatchEvent } from '../../core/store/types.ts'
import { startEtcd } from '../../scripts/lib/etcd.ts'
import type { EtcdMember } from '../../scripts/lib/etcd.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'

const CALL_TIMEOUT_MS = 1_000

/** Retry `fn` until it succeeds (or throw its last error after `timeoutMs`). */
async function untilSucceeds<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

async function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('etcd store through an etcd outage', () => {
  let member: EtcdMember
  let store: EtcdStore

  beforeAll(async () => {
    member = await startEtcd()
    store = new EtcdStore({ endpoints: [member.endpoint], callTimeoutMs: CALL_TIMEOUT_MS })
  })
  afterAll(async () => {
    await store?.close()
    await member?.stop()
  })

  it('fails fast while etcd is down, recovers when it returns, and the watch misses and repeats nothing', async () => {
    const prefix = '/outage/'
    const events: WatchEvent[] = []
    const errors: Error[] = []
    const watch = store.watch(prefix, { onEvents: (batch) => events.push(...batch), onError: (err) => errors.push(err) })
    await watch.ready
    const start = await store.put(`${prefix}before`, '0')
    await eventually(() => events.length === 1, 5_000, 'the write before the outage')
    // A second watch, replaying from a revision, shares the connection and must resume too.
    const replayed: WatchEvent[] = []
    const replay = store.watch(prefix, { fromRevision: start, onEvents: (batch) => replayed.push(...batch), onError: (err) => errors.push(err) })
    await eventually(() => replayed.length === 1, 5_000, 'the replayed write')
    const lease = await store.grantLease(2)

    await member.kill()
    const killedAt = Date.now()

    for (const call of [() => store.get(`${prefix}before`), () => store.put(`${prefix}during`, 'x'), () => store.range(prefix)]) {
      const started = Date.now()
      const err: unknown = await call().then(
        () => new Error('call succeeded against a dead etcd'),
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(StoreUnavailableError)
      expect(err).toMatchObject({ code: 'unavailable', retryable: true })
      expect(Date.now() - started).toBeLessThan(CALL_TIMEOUT_MS + 1_500)
    }

    // Keep-alives fail for a whole TTL: the lease is reported lost (etcd3 alone would wait two).
    await lease.lost
    expect(Date.now() - killedAt).toBeLessThan(2_000 + 1_000)

    await member.restart()
    // The first calls after the restart may still meet the old connection; then they succeed,
    // with no circuit breaker holding them off.
    const restartedAt = Date.now()
    await untilSucceeds(() => store.get(`${prefix}before`))
    expect(Date.now() - restartedAt).toBeLessThan(3_000)
    const written: number[] = []
    for (let i = 1; i <= 5; i++) written.push(await store.put(`${prefix}after-${i}`, String(i)))

    await eventually(() => events.length >= 6, 15_000, 'the writes after recovery')
    expect(events.map((e) => (e.type === 'put' ? e.kv.key : `-${e.key}`))).toEqual([
      `${prefix}before`,
      ...[1, 2, 3, 4, 5].map((i) => `${prefix}after-${i}`),
    ])
    expect(events.slice(1).map((e) => e.revision)).toEqual(written)
    await eventually(() => replayed.length >= 6, 15_000, 'the writes after recovery on the replaying watch')
    expect(replayed).toEqual(events)
    expect(errors).toEqual([])
    await Promise.all([watch.cancel(), replay.cancel()])
  })

  it('a lease granted after recovery keeps its keys, and a new watch replays history', async () => {
    const prefix = '/outage-after/'
    const lease = await untilSucceeds(() => store.grantLease(2))
    const first = await store.put(`${prefix}a`, '1', { lease: lease.id })
    await store.put(`${prefix}b`, '2')
    const events: WatchEvent[] = []
    const watch = store.watch(prefix, { fromRevision: first, onEvents: (batch) => events.push(...batch) })
    await eventually(() => events.length >= 2, 5_000, 'replayed history')
    expect(events.map((e) => e.revision)).toEqual([first, first + 1])
    await lease.revoke()
    await eventually(() => events.length >= 3, 5_000, 'the delete of the leased key')
    expect(events[2]).toMatchObject({ type: 'delete', key: `${prefix}a` })
    await watch.cancel()
  })

  it('a link cut while replaying history resumes after the last delivered event', async () => {
    const prefix = '/resume/'
    // etcd replays history in responses of up to 1000 revisions: write enough for several.
    const written: number[] = []
    const value = 'v'.repeat(100)
    for (let batch = 0; batch < 50; batch++) {
      const revisions = await Promise.all(Array.from({ length: 50 }, (_, i) => store.put(`${prefix}${batch}-${i}`, value)))
      written.push(...revisions)
    }
    written.sort((a, b) => a - b)
    const firstRevision = written[0] ?? 0

    const url = new URL(member.endpoint)
    const proxy = await startTcpProxy(url.hostname, Number(url.port))
    const proxied = new EtcdStore({ endpoints: [proxy.endpoint], callTimeoutMs: CALL_TIMEOUT_MS })
    try {
      const events: WatchEvent[] = []
      let deliveredAtCut = -1
      // Past the first response (1000 events of ~150 bytes), inside the second.
      proxy.cutAfterServerBytes(200_000, () => {
        deliveredAtCut = events.length
      })
      const watch = proxied.watch(prefix, { fromRevision: firstRevision, onEvents: (batch) => events.push(...batch) })
      await eventually(() => events.length >= written.length, 20_000, 'the whole history')
      expect(proxy.cuts).toBe(1)
      expect(deliveredAtCut).toBeGreaterThan(0)
      expect(deliveredAtCut).toBeLessThan(written.length)
      expect(events.map((e) => e.revision)).toEqual(written)
      await watch.cancel()
    } finally {
      await proxied.close()
      await proxy.close()
    }
  })
})
