/**
 * The coordinator's event log: map changes, planner decisions, membership and leadership changes,
 * operator actions. A bounded ring for late subscribers (the dashboard's SSE stream replays it
 * after `Last-Event-ID`) plus live fan-out.
 */
import type { ClusterEvent } from '../core/api/types.ts'
import type { EventFeed } from './api/backend.ts'

export type NewEvent = Omit<ClusterEvent, 'seq' | 'at'>

export class EventLog implements EventFeed {
  private readonly ring: ClusterEvent[] = []
  private readonly listeners = new Set<(event: ClusterEvent) => void>()
  private seq = 0

  /**
   * @param capacity events kept for replay. Default 1000.
   * @param now wall clock for `at`. Default `Date.now`.
   */
  constructor(
    private readonly capacity = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  publish(event: NewEvent): ClusterEvent {
    const full: ClusterEvent = { ...event, seq: ++this.seq, at: this.now() }
    this.ring.push(full)
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity)
    for (const listener of this.listeners) {
      try {
        listener(full)
      } catch {
        // A failing subscriber (a closed HTTP stream) must not stop the others.
      }
    }
    return full
  }

  recent(afterSeq = 0): ClusterEvent[] {
    // The ring is ordered by seq: binary search would do, but it holds at most `capacity` events.
    return this.ring.filter((e) => e.seq > afterSeq)
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get lastSeq(): number {
    return this.seq
  }
}
