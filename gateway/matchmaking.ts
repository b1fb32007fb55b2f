/**
 * Matchmaking across gateways. Tickets live in the store under the queuing gateway's lease, so every
 * gateway sees every queue. Any gateway may form a match: it claims the group's tickets in one
 * transaction that compares each ticket's modRevision, so of two gateways racing for the same
 * tickets exactly one wins. The winner creates the room with a seat reserved for every member and
 * marks the tickets matched; whichever gateway a player polls then signs that player's ticket.
 */
import { randomBytes } from 'node:crypto'
import type { MatchRequest, MatchTicketStatus } from '../core/api/gateway.ts'
import type { Logger } from '../core/log.ts'
import { PrefixCache } from '../core/prefix-cache.ts'
import type { CacheEntry } from '../core/prefix-cache.ts'
import { readRoom } from '../core/rooms.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore, Lease, TxnOp } from '../core/store/types.ts'
import { GatewayError } from './errors.ts'
import { decodeMatchTicket, formGroups, isWaiting } from './match-grouping.ts'
import type { MatchTicket } from './match-grouping.ts'
import type { RoomService } from './room-service.ts'

export interface MatchmakerDeps {
  store: ClusterStore
  keys: Keys
  logger: Logger
  gatewayId: string
  rooms: RoomService
  /** Queued tickets expire after this long, ms. */
  ticketTtlMs: number
  leaseTtlSeconds: number
  now?: () => number
}

export class Matchmaker {
  readonly tickets: PrefixCache<MatchTicket>
  private lease: Lease | undefined
  private readonly listeners = new Map<string, Set<() => void>>()
  private running = false
  private again = false
  private retryAt = 0
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly deps: MatchmakerDeps) {
    this.tickets = new PrefixCache({
      store: deps.store, prefix: `${deps.keys.matchmaking('tickets')}/`, logger: deps.logger,
      decode: (key, value) => decodeMatchTicket(key, value),
    })
  }

  private now(): number {
    return (this.deps.now ?? Date.now)()
  }

  private key(ticketId: string): string {
    return this.deps.keys.matchmaking('tickets', ticketId)
  }

  async start(): Promise<void> {
    this.lease = await this.deps.store.grantLease(this.deps.leaseTtlSeconds)
    this.tickets.onChange((changes) => {
      for (const c of changes) for (const l of this.listeners.get(c.key) ?? []) l()
      this.schedule()
    })
    await this.tickets.start()
    this.timer = setInterval(() => {
      this.schedule()
      this.sweepOwn().catch((err: unknown) => this.deps.logger.warn({ err }, 'matchmaking sweep failed'))
    }, 1_000)
    this.timer.unref()
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    for (const set of this.listeners.values()) for (const l of set) l()
    await this.tickets.stop()
    await this.lease?.revoke().catch(() => undefined)
  }

  /** `POST /v1/matchmaking/tickets`. */
  async enqueue(playerId: string, req: MatchRequest): Promise<MatchTicketStatus> {
    const now = this.now()
    for (const e of this.tickets.values()) {
      if (e.value.playerId === playerId && isWaiting(e.value, now)) throw new GatewayError('already_playing', `player ${playerId} is already queued (ticket ${e.value.id})`)
    }
    if (!this.lease || this.lease.isLost) this.lease = await this.deps.store.grantLease(this.deps.leaseTtlSeconds)
    const ticket: MatchTicket = {
      id: randomBytes(9).toString('base64url'), playerId, mode: req.mode, size: req.size, attributes: req.attributes ?? {},
      createdAt: now, expiresAt: now + this.deps.ticketTtlMs, gatewayId: this.deps.gatewayId, state: 'queued',
    }
    await this.deps.store.put(this.key(ticket.id), JSON.stringify(ticket), { lease: this.lease.id })
    return { ticketId: ticket.id, state: 'queued' }
  }

  /** The ticket as its player sees it; a matched ticket comes with a freshly signed grant. */
  async status(playerId: string, ticketId: string): Promise<MatchTicketStatus> {
    const t = (await this.entry(ticketId))?.value
    if (!t || t.playerId !== playerId) throw new GatewayError('unknown_ticket', `no matchmaking ticket ${ticketId}`)
    if (t.state === 'matched' && t.roomId !== undefined) {
      const room = (await readRoom(this.deps.store, this.deps.keys, t.roomId))?.room
      if (!room) throw new GatewayError('unknown_room', `the match's room ${t.roomId} is gone`)
      return { ticketId, state: 'matched', match: await this.deps.rooms.grant(playerId, room) }
    }
    if (t.expiresAt <= this.now()) return { ticketId, state: 'expired' }
    return { ticketId, state: t.state }
  }

  /** Resolves when the ticket changes, expires, `waitMs` passes or `signal` aborts. */
  async waitForChange(ticketId: string, waitMs: number, signal?: AbortSignal): Promise<void> {
    const t = this.tickets.get(this.key(ticketId))?.value
    const until = Math.min(waitMs, t ? Math.max(0, t.expiresAt - this.now()) + 5 : waitMs)
    if (until <= 0 || this.stopped) return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timeout)
        unsubscribe()
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timeout = setTimeout(done, until)
      const unsubscribe = this.subscribe(ticketId, done)
      signal?.addEventListener('abort', done)
    })
  }

  /** `listener` runs whenever the ticket's record changes; returns the unsubscribe function. */
  subscribe(ticketId: string, listener: () => void): () => void {
    const key = this.key(ticketId)
    let set = this.listeners.get(key)
    if (!set) this.listeners.set(key, (set = new Set()))
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0) this.listeners.delete(key)
    }
  }

  /** `DELETE /v1/matchmaking/tickets/:id`. */
  async cancel(playerId: string, ticketId: string): Promise<void> {
    const e = await this.entry(ticketId)
    if (!e || e.value.playerId !== playerId) throw new GatewayError('unknown_ticket', `no matchmaking ticket ${ticketId}`)
    await this.deps.store.txn({ compare: [{ key: e.key, target: 'modRevision', op: '==', value: e.modRevision }], success: [{ type: 'delete', key: e.key }] })
  }

  private async entry(ticketId: string): Promise<CacheEntry<MatchTicket> | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(ticketId)) return undefined
    const cached = this.tickets.get(this.key(ticketId))
    if (cached) return cached
    // Queued a moment ago through another gateway: not in this cache yet.
    const kv = await this.deps.store.get(this.key(ticketId))
    if (!kv) return undefined
    const e: CacheEntry<MatchTicket> = { key: kv.key, value: decodeMatchTicket(kv.key, kv.value), modRevision: kv.modRevision, createRevision: kv.createRevision }
    if (kv.lease !== undefined) e.lease = kv.lease
    return e
  }

  private schedule(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    if (this.now() < this.retryAt) return
    this.running = true
    this.formMatches()
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'forming matches failed'))
      .finally(() => {
        this.running = false
        if (this.again) {
          this.again = false
          this.schedule()
        }
      })
  }

  private async formMatches(): Promise<void> {
    const entries = new Map<string, CacheEntry<MatchTicket>>()
    for (const e of this.tickets.values()) entries.set(e.value.id, e)
    for (const group of formGroups([...entries.values()].map((e) => e.value), this.now())) {
      if (this.stopped) return
      const members = group.map((t) => entries.get(t.id)).filter((e): e is CacheEntry<MatchTicket> => e !== undefined)
      await this.formMatch(members)
    }
  }

  private async formMatch(members: CacheEntry<MatchTicket>[]): Promise<void> {
    const { store, rooms, logger } = this.deps
    const now = this.now()
    const claimed = members.map((e) => ({ ...e.value, state: 'matching' as const, claimedBy: this.deps.gatewayId, claimedAt: now }))
    const claim = await store.txn({
      compare: members.map((e) => ({ key: e.key, target: 'modRevision' as const, op: '==' as const, value: e.modRevision })),
      success: members.map((e, i) => put(e, claimed[i] as MatchTicket)),
    })
    if (!claim.succeeded) return // another gateway claimed some of them, or a player cancelled
    const first = members[0]?.value
    if (!first) return
    let roomId: string | undefined
    try {
      const { room } = await rooms.create(members.map((e) => e.value.playerId), {
        mode: first.mode, maxPlayers: first.size, labels: { ...first.attributes, matchmaking: 'true' },
      }, { enforce: false })
      roomId = room.id
    } catch (err) {
      logger.warn({ err, tickets: members.map((e) => e.value.id) }, 'could not create the room of a match; queueing again')
      this.retryAt = this.now() + 1_000
    }
    // Each ticket separately: a player who cancelled meanwhile must not bring the ticket back.
    await Promise.all(members.map((e, i) => {
      const base = claimed[i] as MatchTicket
      const next: MatchTicket = roomId === undefined
        ? { ...base, state: 'queued' }
        : { ...base, state: 'matched', roomId, matchedAt: this.now() }
      if (roomId === undefined) {
        delete next.claimedBy
        delete next.claimedAt
      }
      return store.txn({ compare: [{ key: e.key, target: 'modRevision', op: '==', value: claim.revision }], success: [put(e, next)] })
    }))
  }

  /** Delete this gateway's tickets once nobody needs them: a TTL after they expired or matched. */
  private async sweepOwn(): Promise<void> {
    const now = this.now()
    const ttl = this.deps.ticketTtlMs
    for (const e of this.tickets.values()) {
      const t = e.value
      if (t.gatewayId !== this.deps.gatewayId) continue
      const doneAt = t.state === 'matched' ? (t.matchedAt ?? now) : t.expiresAt
      if (now - doneAt < ttl) continue
      await this.deps.store.txn({ compare: [{ key: e.key, target: 'modRevision', op: '==', value: e.modRevision }], success: [{ type: 'delete', key: e.key }] })
    }
  }
}

function put(e: CacheEntry<MatchTicket>, value: MatchTicket): TxnOp {
  return e.lease !== undefined ? { type: 'put', key: e.key, value: JSON.stringify(value), lease: e.lease } : { type: 'put', key: e.key, value: JSON.stringify(value) }
}
