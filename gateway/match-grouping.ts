/**
 * Matchmaking tickets (`matchmaking/tickets/{ticketId}`, under the queuing gateway's lease) and the
 * pure rule that groups them: queued, unexpired tickets with the same mode, size and attributes are
 * matched oldest first, `size` at a time.
 */
import { z } from 'zod'
import { decodeRecord } from '../core/records.ts'

/** A claim older than this was abandoned (its gateway died mid-match): the tickets queue again. */
export const CLAIM_TIMEOUT_MS = 30_000

export const matchTicketSchema = z.object({
  id: z.string().min(1),
  playerId: z.string().min(1),
  mode: z.string().min(1),
  size: z.number().int().min(1),
  attributes: z.record(z.string(), z.string()).default({}),
  createdAt: z.number(),
  expiresAt: z.number(),
  /** The gateway that queued it (and owns the lease it lives under). */
  gatewayId: z.string(),
  state: z.enum(['queued', 'matching', 'matched']),
  claimedBy: z.string().optional(),
  claimedAt: z.number().optional(),
  matchedAt: z.number().optional(),
  roomId: z.string().optional(),
})
export type MatchTicket = z.infer<typeof matchTicketSchema>

export function decodeMatchTicket(key: string, json: string): MatchTicket {
  return decodeRecord(matchTicketSchema, key, json)
}

/** Tickets that may only be matched with each other share this key. */
export function queueKey(t: Pick<MatchTicket, 'mode' | 'size' | 'attributes'>): string {
  const attrs = Object.entries(t.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return JSON.stringify([t.mode, t.size, attrs])
}

/** Whether the ticket waits for a match now. */
export function isWaiting(t: MatchTicket, now: number): boolean {
  if (t.expiresAt <= now) return false
  if (t.state === 'queued') return true
  return t.state === 'matching' && (t.claimedAt ?? 0) + CLAIM_TIMEOUT_MS < now
}

/** Full groups of waiting tickets, oldest first within each queue; a player appears at most once. */
export function formGroups(tickets: Iterable<MatchTicket>, now: number): MatchTicket[][] {
  const queues = new Map<string, MatchTicket[]>()
  for (const t of tickets) {
    if (!isWaiting(t, now)) continue
    const k = queueKey(t)
    let q = queues.get(k)
    if (!q) queues.set(k, (q = []))
    q.push(t)
  }
  const groups: MatchTicket[][] = []
  // A player with tickets in two queues (queued through two gateways at once) is matched once.
  const used = new Set<string>()
  for (const q of queues.values()) {
    q.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
    let group: MatchTicket[] = []
    for (const t of q) {
      if (used.has(t.playerId)) continue
      used.add(t.playerId)
      group.push(t)
      if (group.length === t.size) {
        groups.push(group)
        group = []
      }
    }
    for (const t of group) used.delete(t.playerId)
  }
  return groups
}
