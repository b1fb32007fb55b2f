/** The key layout and the translation of etcd3/gRPC errors into store errors. */
import { ClientClosedError, EtcdLeaseInvalidError, GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3'
import { describe, expect, it } from 'vitest'
import {
  CompactedError,
  LeaseExpiredError,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
  castEtcdError,
  isRetryableStoreError,
} from '../../core/store/errors.ts'
import { Keys, scopedKeys } from '../../core/store/keys.ts'

describe('Keys', () => {
  const keys = scopedKeys()

  it('lays keys out under the default prefix', () => {
    expect(keys.worker('w1')).toBe('/tessera/workers/w1')
    expect(keys.workers()).toBe('/tessera/workers/')
    expect(keys.leader()).toBe('/tessera/coordinator/leader')
    expect(keys.world('earth')).toBe('/tessera/worlds/earth')
    expect(keys.worldMap('earth')).toBe('/tessera/worlds/earth/map')
    expect(keys.room('r1')).toBe('/tessera/rooms/r1')
    expect(keys.session('p1')).toBe('/tessera/sessions/p1')
    expect(keys.matchmaking('queues', 'duel')).toBe('/tessera/matchmaking/queues/duel')
    expect(keys.matchmaking()).toBe('/tessera/matchmaking/')
  })

  it('tells world specs from world maps under the shared prefix', () => {
    expect(keys.worldIdOfSpec(keys.world('earth'))).toBe('earth')
    expect(keys.worldIdOfSpec(keys.worldMap('earth'))).toBeUndefined()
    expect(keys.worldIdOfMap(keys.worldMap('earth'))).toBe('earth')
    expect(keys.worldIdOfMap(keys.world('earth'))).toBeUndefined()
  })

  it('adds a missing trailing slash to the prefix and rejects ids with a slash', () => {
    expect(new Keys('/test-1').worker('a')).toBe('/test-1/workers/a')
    expect(() => keys.world('a/b')).toThrow(RangeError)
    expect(() => keys.room('')).toThrow(RangeError)
  })
})

describe('castEtcdError', () => {
  it.each([
    ['unavailable', new GRPCUnavailableError('14 UNAVAILABLE: No connection established'), StoreUnavailableError],
    ['deadline exceeded', new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'), StoreUnavailableError],
    ['a raw gRPC status 14', Object.assign(new Error('14 UNAVAILABLE'), { code: 14 }), StoreUnavailableError],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), StoreUnavailableError],
    ['an open circuit breaker', Object.assign(new Error('Execution prevented because the circuit breaker is open'), { name: 'BrokenCircuitError' }), StoreUnavailableError],
    ['etcd request timeout', new Error('etcdserver: request timed out'), StoreUnavailableError],
    ['lease not found', new EtcdLeaseInvalidError('etcdserver: requested lease not found'), LeaseExpiredError],
    ['compaction', new Error('etcdserver: mvcc: required revision has been compacted'), CompactedError],
    ['a closed client', new ClientClosedError('KV'), StoreClosedError],
  ])('maps %s', (_name, input, expected) => {
    const err = castEtcdError(input)
    expect(err).toBeInstanceOf(expected)
    expect(err.cause).toBe(input)
  })

  it('marks only transient failures retryable, and passes store errors through', () => {
    const unavailable = castEtcdError(new GRPCUnavailableError('down'))
    expect(unavailable).toMatchObject({ code: 'unavailable', retryable: true })
    expect(isRetryableStoreError(unavailable)).toBe(true)
    expect(castEtcdError(unavailable)).toBe(unavailable)
    const unknown = castEtcdError(new Error('something odd'))
    expect(unknown).toBeInstanceOf(StoreError)
    expect(unknown).toMatchObject({ code: 'internal', retryable: false })
    expect(castEtcdError('a string')).toMatchObject({ code: 'internal' })
  })
})
