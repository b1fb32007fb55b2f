import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { PrefixCache } from '../../core/prefix-cache.ts'
import type { CacheChange } from '../../core/prefix-cache.ts'
import { CompactedError, MemoryStore } from '../../core/store/index.ts'
import type { ClusterStore } from '../../core/store/types.ts'
import { eventually } from '../helpers/eventually.ts'

const decode = (_key: string, value: string) => {
  const n = Number(value)
  if (Number.isNaN(n)) throw new Error('not a number')
  return n
}

describe('PrefixCache', () => {
  const store = new MemoryStore()
  const caches: { stop(): Promise<void> }[] = []
  afterEach(async () => {
    for (const c of caches.splice(0)) await c.stop()
    await store.deletePrefix('/')
  })

  async function cache(prefix = '/c/'): Promise<{ cache: PrefixCache<number>; changes: CacheChange<number>[] }> {
    const c = new PrefixCache({ store, prefix, decode, logger: silentLogger() })
    const changes: CacheChange<number>[] = []
    c.onChange((batch) => changes.push(...batch))
    await c.start()
    caches.push(c)
    return { cache: c, changes }
  }

  it('holds what was there at start and follows puts and deletes after it, once each', async () => {
    await store.put('/c/a', '1')
    await store.put('/other/x', '9')
    const { cache: c, changes } = await cache()
    expect([...c.values()].map((e) => [e.key, e.value])).toEqual([['/c/a', 1]])
    await store.put('/c/b', '2')
    await store.put('/c/a', '3')
    await store.delete('/c/b')
    await eventually('three changes', () => changes.length >= 4)
    expect(changes.map((ch) => `${ch.type} ${ch.key}`)).toEqual(['put /c/a', 'put /c/b', 'put /c/a', 'delete /c/b'])
    expect(c.get('/c/a')?.value).toBe(3)
    expect(c.get('/c/b')).toBeUndefined()
    expect(c.revision).toBe(store.currentRevision)
  })

  it('takes a value its own process announced instead of decoding it, and only that exact value', async () => {
    const decoded: string[] = []
    const c = new PrefixCache({ store, prefix: '/c/', decode: (key, value) => (decoded.push(value), decode(key, value)), logger: silentLogger() })
    caches.push(c)
    await c.start()
    const mine = { n: 1 }
    const objects = new PrefixCache<{ n: number }>({ store, prefix: '/c/', decode: (_key, value) => ({ n: Number(value) }), logger: silentLogger() })
    caches.push(objects)
    await objects.start()
    objects.expect('/c/a', '1', mine)
    c.expect('/c/a', '1', 1)
    await store.put('/c/a', '1')
    await eventually('a', () => c.get('/c/a') && objects.get('/c/a'))
    expect(decoded).toEqual([])
    expect(objects.get('/c/a')?.value).toBe(mine)
    // A write that lost its race: another value arrives, is decoded, and the expectation is gone.
    c.expect('/c/a', '2', 2)
    await store.put('/c/a', '3')
    await eventually('a is 3', () => c.get('/c/a')?.value === 3)
    await store.put('/c/a', '2')
    await eventually('a is 2', () => c.get('/c/a')?.value === 2)
    expect(decoded).toEqual(['3', '2'])
  })

  it('treats a value that does not decode as absent instead of failing', async () => {
    const { cache: c } = await cache()
    await store.put('/c/a', '1')
    await eventually('a', () => c.get('/c/a'))
    await store.put('/c/a', 'garbage')
    await eventually('a gone', () => c.get('/c/a') === undefined)
    await store.put('/c/a', '5')
    await eventually('a back', () => c.get('/c/a')?.value === 5)
  })

  it('reads everything again when its watch fails, reporting only what changed meanwhile', async () => {
    await store.put('/c/keep', '1')
    await store.put('/c/drop', '2')
    // The first watch goes deaf (as one whose revision was compacted away would) until failed.
    let failFirst: ((err: Error) => void) | undefined
    let watches = 0
    const flaky: ClusterStore = Object.create(store) as ClusterStore
    flaky.watch = (prefix, options) => {
      if (++watches > 1) return store.watch(prefix, options)
      failFirst = (err) => options.onError?.(err)
      return { ready: Promise.resolve(), cancel: async () => undefined }
    }
    const c = new PrefixCache({ store: flaky, prefix: '/c/', decode, logger: silentLogger() })
    await c.start()
    caches.push(c)
    const changes: CacheChange<number>[] = []
    c.onChange((batch) => changes.push(...batch))
    await store.delete('/c/drop')
    await store.put('/c/new', '3')
    expect(c.get('/c/drop')?.value).toBe(2)
    failFirst?.(new CompactedError('compacted', 1))
    await eventually('resynced', () => c.get('/c/new')?.value === 3 && c.get('/c/drop') === undefined)
    expect(changes.map((ch) => `${ch.type} ${ch.key}`).sort()).toEqual(['delete /c/drop', 'put /c/new'])
    await store.put('/c/keep', '4')
    await eventually('follows after resync', () => c.get('/c/keep')?.value === 4)
    expect(watches).toBe(2)
  })
})
