/**
 * The ownership audit of the seamless-world end-to-end test catches a real duplicate and a real
 * loss, and does not mistake a handoff landing between two reads for either.
 */
import { describe, expect, it } from 'vitest'
import { judgeSample } from '../helpers/ownership-audit.ts'
import type { Holding, WorkerRead } from '../helpers/ownership-audit.ts'

const sim = (partitionId: string): Holding => ({ kind: 'sim', partitionId })
const offer: Holding = { kind: 'offer' }
const read = (workerId: string, ...holdings: Array<[number, Holding]>): WorkerRead => ({
  workerId, holdings: holdings.map(([entityId, holding]) => ({ entityId, holding })),
})
const expected = new Set([1, 2, 3])

describe('judgeSample', () => {
  it('passes a quiet cluster and names each entity’s owner', () => {
    const round = [read('a', [1, sim('p1')], [2, sim('p1')]), read('b', [3, sim('p2')])]
    const v = judgeSample(round, round, expected)
    expect(v).toMatchObject({ settled: 3, unsettled: 0, problems: [] })
    expect([...v.owners]).toEqual([[1, 'a'], [2, 'a'], [3, 'b']])
  })

  it('catches an entity simulated on two workers', () => {
    const round = [read('a', [1, sim('p1')], [2, sim('p1')]), read('b', [2, sim('p2')], [3, sim('p2')])]
    const v = judgeSample(round, round, expected)
    expect(v.problems).toEqual(['entity 2 is simulated 2 times: a[sim:p1] b[sim:p2]'])
  })

  it('catches an entity simulated twice by one worker, and one offered twice', () => {
    const round = [read('a', [1, sim('p1')], [1, sim('p3')], [2, offer]), read('b', [2, offer], [3, sim('p2')])]
    expect(judgeSample(round, round, expected).problems).toEqual([
      'entity 1 is simulated 2 times: a[sim:p1,sim:p3]',
      'entity 2 is on offer 2 times: a[offer] b[offer]',
    ])
  })

  it('catches a lost entity and one that appeared from nowhere', () => {
    const round = [read('a', [1, sim('p1')]), read('b', [3, sim('p2')], [9, sim('p2')])]
    expect(judgeSample(round, round, expected).problems).toEqual([
      'entity 2 is lost: held nowhere',
      'entity 9 appeared from nowhere (b[sim:p2])',
    ])
  })

  it('allows a handoff in flight: offered by the sender, or already simulated by the receiver', () => {
    const offered = [read('a', [1, sim('p1')], [2, offer]), read('b', [3, sim('p2')])]
    expect(judgeSample(offered, offered, expected).problems).toEqual([])
    const accepted = [read('a', [1, sim('p1')], [2, offer]), read('b', [2, sim('p2')], [3, sim('p2')])]
    expect(judgeSample(accepted, accepted, expected).problems).toEqual([])
  })

  it('does not judge an entity handed over between the reads (seen twice, then once)', () => {
    // Round one read a before and b after entity 2 moved from a to b; round two saw it settled at b.
    const first = [read('a', [1, sim('p1')], [2, sim('p1')]), read('b', [2, sim('p2')], [3, sim('p2')])]
    const second = [read('a', [1, sim('p1')]), read('b', [2, sim('p2')], [3, sim('p2')])]
    expect(judgeSample(first, second, expected)).toMatchObject({ settled: 2, unsettled: 1, problems: [] })
    // The other way round: seen nowhere in round one (b read before, a after), then at a.
    const gone = [read('a', [1, sim('p1')]), read('b', [3, sim('p2')])]
    const back = [read('a', [1, sim('p1')], [2, sim('p1')]), read('b', [3, sim('p2')])]
    expect(judgeSample(gone, back, expected)).toMatchObject({ settled: 2, unsettled: 1, problems: [] })
  })

  it('counts a worker that is gone (read as holding nothing) like any other', () => {
    const round = [read('a', [1, sim('p1')], [2, sim('p1')], [3, sim('p1')]), read('c')]
    expect(judgeSample(round, round, expected).problems).toEqual([])
  })
})
