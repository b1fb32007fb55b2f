/** How queued matchmaking tickets are grouped into matches. */
import { describe, expect, it } from 'vitest'
import { CLAIM_TIMEOUT_MS, formGroups, queueKey } from '../../gateway/match-grouping.ts'
import type { MatchTicket } from '../../gateway/match-grouping.ts'

let seq = 0
const ticket = (playerId: string, over: Partial<MatchTicket> = {}): MatchTicket => ({
  id: `t${++seq}`, playerId, mode: 'duel', size: 2, attributes: {}, createdAt: seq, expiresAt: 1_000_000, gatewayId: 'g', state: 'queued', ...over,
})
const players = (groups: MatchTicket[][]) => groups.map((g) => g.map((t) => t.playerId))

describe('match grouping', () => {
  it('groups by mode, size and attributes, oldest first, leaving the remainder queued', () => {
    const ts = [
      ticket('a'), ticket('b', { mode: 'ffa' }), ticket('c'), ticket('d', { attributes: { region: 'eu' } }), ticket('e'),
      ticket('f', { attributes: { region: 'eu' } }), ticket('g', { size: 3 }), ticket('h', { size: 3 }),
    ]
    expect(players(formGroups(ts, 0))).toEqual([['a', 'c'], ['d', 'f']])
  })

  it('treats attribute order as irrelevant', () => {
    expect(queueKey({ mode: 'm', size: 2, attributes: { a: '1', b: '2' } })).toBe(queueKey({ mode: 'm', size: 2, attributes: { b: '2', a: '1' } }))
  })

  it('skips expired and claimed tickets, but takes back a claim abandoned for too long', () => {
    const ts = [
      ticket('a', { expiresAt: 10 }), ticket('b'), ticket('c', { state: 'matching', claimedAt: 100 }), ticket('d', { state: 'matched', roomId: 'r' }), ticket('e'),
    ]
    expect(players(formGroups(ts, 50))).toEqual([['b', 'e']])
    expect(players(formGroups(ts, 100 + CLAIM_TIMEOUT_MS + 1))).toEqual([['b', 'c']])
  })

  it('never puts one player twice in a match or in two matches', () => {
    const ts = [ticket('a'), ticket('a'), ticket('b'), ticket('a', { mode: 'ffa' }), ticket('c', { mode: 'ffa' })]
    expect(players(formGroups(ts, 0))).toEqual([['a', 'b']])
  })
})
