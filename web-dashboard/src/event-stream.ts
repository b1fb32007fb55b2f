/**
 * The coordinator's event feed over server-sent events. The browser's EventSource reconnects by
 * itself after a dropped connection and sends `Last-Event-ID`, so nothing held is missed; when it
 * gives up (an HTTP error, e.g. while a standby answers), a new one resumes with `?after=`.
 */
import type { ClusterEvent, ClusterEventType } from '../../core/api/types.ts'

const types: readonly ClusterEventType[] = ['map', 'decision', 'membership', 'leadership', 'operator', 'load']
const RETRY_MS = 2000

export type StreamStatus = 'connecting' | 'live' | 'reconnecting'

export class EventStream {
  private source: EventSource | undefined
  private lastSeq = 0
  private retry: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly onEvent: (e: ClusterEvent) => void,
    private readonly onStatus: (s: StreamStatus) => void,
  ) {}

  start(): void {
    this.open()
  }

  private open(): void {
    const url = this.lastSeq > 0 ? `api/v1/events?after=${this.lastSeq}` : 'api/v1/events'
    const source = new EventSource(url)
    this.source = source
    this.onStatus('connecting')
    source.onopen = () => this.onStatus('live')
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        this.onStatus('reconnecting')
        clearTimeout(this.retry)
        this.retry = setTimeout(() => this.open(), RETRY_MS)
      } else {
        this.onStatus('reconnecting')
      }
    }
    const handle = (m: MessageEvent<string>): void => {
      let event: ClusterEvent
      try {
        event = JSON.parse(m.data) as ClusterEvent
      } catch {
        return
      }
      // Replays after a reconnect start after the last seen event; this guards a resumed `?after=`.
      if (event.seq <= this.lastSeq) return
      this.lastSeq = event.seq
      this.onEvent(event)
    }
    for (const t of types) source.addEventListener(t, handle)
  }
}
