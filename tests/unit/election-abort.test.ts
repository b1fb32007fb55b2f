import { afterAll, describe, expect, it } from 'vitest'
import { Election } from '../../core/store/election.ts'
import { MemoryStore, StoreAbortedError } from '../../core/store/index.ts'
import type { ClusterStore } from '../../core/store/types.ts'

describe('election', () => {
  const store = new MemoryStore()
  afterAll(() => store.close())

  it('withdraws a campaign aborted while it reads the other candidates', async () => {
    const abort = new AbortController()
    let armed = false
    // The abort lands after the candidate read the line of candidates and before it starts waiting
    // for its predecessor: the moment no 'abort' event can reach a listener that is not there yet.
    const racing: ClusterStore = Object.create(store) as ClusterStore
    racing.range = async (prefix) => {
      const result = await store.range(prefix)
      if (armed) abort.abort()
      return result
    }
    const election = new Election(racing, '/race/leader')
    const [la, lb] = await Promise.all([store.grantLease(30), store.grantLease(30)])
    const leader = await election.campaign('a', la)
    armed = true
    const waiting = election.campaign('b', lb, abort.signal)
    const settled = await Promise.race([
      waiting.then(() => 'led', (err: unknown) => err),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000)),
    ])
    expect(settled).toBeInstanceOf(StoreAbortedError)
    expect((await store.range('/race/leader/')).kvs.map((kv) => kv.value)).toEqual(['a'])
    await leader.resign()
    await Promise.all([la.revoke(), lb.revoke()])
  })
})
