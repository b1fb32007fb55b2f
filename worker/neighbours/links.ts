/**
 * The neighbour links of one worker: one `Link` stream per pair of workers that own adjacent
 * partitions. The worker with the lower id dials, so a pair never opens two streams; the other side
 * takes the stream when its first frame (a hello) names the peer. Links follow the wanted set (from
 * the maps and the `workers/` records): new peers are dialled, dropped peers closed (by the side that
 * dialled), broken streams redialled with exponential backoff.
 *
 * Wants are usually symmetric (adjacency is), but not always: a partition's new owner may not border
 * its old one, which still hands it entities. So a higher-id worker that still has no stream after
 * `dialGraceMs` dials itself; neither side dials while a stream is open, so a pair settles on one.
 *
 * Frames are batched: `send` queues, `flush` writes at most two messages per link (once per tick,
 * and after handling a peer's frames): the tick's ghost batches, and everything else ahead of them.
 *
 * Flow control: a stream only takes what it can send. gRPC buffers whatever is written without
 * limit, so a peer that reads slower than we write (a busy event loop, a crowd at the border) would
 * let ghost batches pile up in the stream, with every offer and reply written after them waiting
 * behind all of them. So each link keeps its own queue and writes only while the stream keeps up
 * (a write counts until gRPC has handed it to http2, which honours the peer's flow-control window):
 * ghost batches go out only on an idle stream, and only the newest per source partition is kept
 * (a batch is the whole state near a border, so an older one is superseded, never needed); every
 * other frame (offers, replies, forwarded inputs, messages) is kept in order and goes out ahead of
 * them, and a re-sent offer still waiting in the queue replaces its earlier copy there. (A dialled
 * link's channel is set up so that a write's completion means that: see `CHANNEL_OPTIONS`.)
 *
 * A stream whose writes stop completing while it stays open is re-opened after `stallMs`; whenever
 * a stream is replaced or breaks, what the peer may not have received is queued again (`salvage`).
 */
import { credentials } from '@grpc/grpc-js'
import type { ClientDuplexStream, ServerDuplexStream } from '@grpc/grpc-js'
import type { Logger } from '../../core/log.ts'
import { NeighbourServiceClient } from '../../proto/gen/tessera/v1/neighbour.ts'
import type { PartitionRef } from '../../proto/gen/tessera/v1/common.ts'
import type { HandoffOffer, LinkRequest, LinkResponse, NeighbourFrame } from '../../proto/gen/tessera/v1/neighbour.ts'
import { handoffTrace } from '../handoff/trace.ts'

export interface LinkSetOptions {
  workerId: string
  logger: Logger
  /** Partitions this worker owns now, for hello frames. */
  owned: () => PartitionRef[]
  /** Frames that arrived from a peer (called as they arrive; the caller queues them for its tick). */
  onFrames: (peerId: string, frames: NeighbourFrame[]) => void
  /** First redial delay in ms, doubled per failure up to `maxBackoffMs` (defaults 100 and 3,000). */
  backoffMs?: number
  maxBackoffMs?: number
  /** How long a higher-id worker waits for the peer to dial before dialling itself (default 1,000 ms). */
  dialGraceMs?: number
  /**
   * A write that has not completed after this long (default 3,000 ms) means the stream is wedged:
   * the link is re-opened on a connection of its own, its unfinished frames sent again.
   */
  stallMs?: number
  /** A peer's gRPC address when known (to re-open a wedged stream the peer had opened). */
  addressOf?: (peerId: string) => string | undefined
}

/**
 * HTTP/2 receive window of a link, both ways (the worker's gRPC server is started with it too).
 * Node's default of 64 KB is smaller than one tick's ghost batches for a crowded border, and with it
 * writes stalled for seconds at a time under load. Not larger than 1 MB either: with 4 MB windows,
 * two peers writing each other more than ~4 MB at the same moment (two partitions changing owner
 * in opposite directions) both stopped, every write unfinished and nothing received, until the
 * stream was re-opened, and the frames sent again met the same fate. A window at or above what
 * the kernel's socket buffers take (Linux's `tcp_wmem` allows a socket 4 MB by default) lets each
 * side's HTTP/2 session start a write the socket cannot finish while the peer's does the same, and
 * neither reads while its write is pending; 1 MB and 2 MB windows moved 20 MB each way at once.
 * `tests/integration/neighbour-links.test.ts` sends 6.5 MB each way at once.
 */
export const LINK_WINDOW_BYTES = 1024 * 1024

/**
 * Largest message a link takes, both ways. One tick's frames other than ghosts go as one message,
 * and a partition changing owner goes as one frame (`PartitionTransfer`): thousands of entities
 * with their state, past grpc-js's default of 4 MB for a crowded partition. A message over the
 * bound breaks the stream, and the frames salvaged from it would break the next one the same way.
 */
export const LINK_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

/**
 * Frames other than ghost batches go out in messages of about this many bytes at most (a single
 * larger frame goes alone), up to two in flight: what a reply queued behind a burst (a partition
 * changing owner, a crowd crossing) waits for is one bounded message, not the whole burst.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024

/** A frame's encoded size, roughly: what its payloads weigh, plus a little per entity. */
export function approxBytes(f: NeighbourFrame): number {
  const frame = f.frame
  switch (frame?.$case) {
    case 'handoff':
      return offerBytes(frame.value)
    case 'transfer': {
      let n = 16
      for (const o of frame.value.offers) n += offerBytes(o)
      return n
    }
    case 'message':
      return 48 + frame.value.payload.length
    case 'forwardedInput':
      return 48 + (frame.value.input?.input.length ?? 0)
    default:
      return 64
  }
}

function offerBytes(o: HandoffOffer): number {
  let n = 128 + (o.entity?.state.length ?? 0)
  for (const i of o.pendingInputs) n += 8 + i.input.length
  return n
}

/** How a worker's gRPC server is started for the links it accepts (`startGrpcServer`'s options). */
export const LINK_SERVER_OPTIONS = { flowControlWindow: LINK_WINDOW_BYTES, maxReceiveMessageBytes: LINK_MAX_MESSAGE_BYTES }

/**
 * Options of the channel each dialled link opens. A connection of its own (no subchannel shared
 * with other clients of the same address in this process): links from several workers of one
 * process to one peer would otherwise share one HTTP/2 connection and its one flow-control window,
 * so one wedged link would stall them all, and re-opening a link would land on the same connection.
 * No retry buffer: grpc-js otherwise completes a write as soon as it has copied the message into
 * its per-call retry buffer (up to 1 MB), retries on or off, so a write's callback would not say
 * that the stream took it and the link's queue would not hold anything back.
 */
const CHANNEL_OPTIONS = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.enable_retries': 0,
  'grpc.per_rpc_retry_buffer_size': 0,
  'grpc-node.flow_control_window': LINK_WINDOW_BYTES,
  'grpc.max_receive_message_length': LINK_MAX_MESSAGE_BYTES,
}

type Stream = ClientDuplexStream<LinkRequest, LinkResponse> | ServerDuplexStream<LinkRequest, LinkResponse>

interface Link {
  peerId: string
  stream: Stream | undefined
  /** Dialled by us (we own reconnects) or taken from the peer. */
  dialled: boolean
  address: string
  client: NeighbourServiceClient | undefined
  /** Frames other than ghost batches, in order; never dropped while the link lives. */
  control: NeighbourFrame[]
  /** The newest ghost batch per source partition (`world:partition`), in first-queued order. */
  ghosts: Map<string, NeighbourFrame>
  /** Messages written to the current stream and not yet handed to http2. */
  inFlight: number
  /** performance.now() when each in-flight write was made, and its frames, oldest first. */
  writtenAt: number[]
  unfinished: NeighbourFrame[][]
  /**
   * Replies, forwarded inputs and relay notices of writes completed lately, with when they
   * completed: HTTP/2 took them, but a wedged stream may never have delivered them (see `reopen`).
   */
  recent: { at: number; frames: NeighbourFrame[] }[]
  /** Messages written and completed, and messages received, on this link (all its streams). */
  written: number
  completed: number
  received: number
  failures: number
  timer: NodeJS.Timeout | undefined
  /** When we started wanting this link (performance.now()), for the dial grace. */
  wantedSince: number
}

export class LinkSet {
  private readonly links = new Map<string, Link>()
  private stopped = false
  /**
   * Frames queued, written and received, for tests and metrics: `framesOut` counts frames written to
   * a stream, `ghostsSuperseded` ghost batches replaced by a newer one before they were written,
   * `offersReplaced` offers replaced in the queue by their own resend.
   */
  readonly counters = { framesQueued: 0, framesOut: 0, framesIn: 0, connects: 0, ghostsSuperseded: 0, offersReplaced: 0, stalls: 0 }

  constructor(private readonly options: LinkSetOptions) {}

  /** The gRPC handler for `NeighbourService.Link` (the peer dialled us). */
  readonly serve = (call: ServerDuplexStream<LinkRequest, LinkResponse>): void => {
    let peer: string | undefined
    call.on('data', (msg: LinkRequest) => {
      if (peer === undefined) {
        const hello = msg.frames.find((f) => f.frame?.$case === 'hello')
        if (hello?.frame?.$case !== 'hello' || this.stopped) {
          call.end()
          return
        }
        peer = hello.frame.value.workerId
        const link = this.ensure(peer, '', false)
        // The peer dialled: it owns this stream's lifecycle; ours (if any) gives way.
        if (link.dialled) this.close(link)
        link.dialled = false
        this.attach(link, call)
        call.write({ frames: [this.hello()] })
      }
      this.receive(peer, msg.frames)
    })
    const gone = () => {
      const link = peer === undefined ? undefined : this.links.get(peer)
      if (link?.stream !== call) return
      link.stream = undefined
      this.salvage(link)
    }
    call.on('error', gone)
    call.on('end', () => {
      gone()
      call.end()
    })
    call.on('cancelled', gone)
  }

  /** Peers wanted now, with their gRPC addresses. Dials, keeps or closes links to match. */
  setPeers(peers: ReadonlyMap<string, string>): void {
    if (this.stopped) return
    const now = performance.now()
    for (const [peerId, address] of peers) {
      if (peerId === this.options.workerId) continue
      const link = this.ensure(peerId, address, false)
      // Kept even for a stream the peer opened: a wedged one is replaced by dialling (`reopen`).
      if (!link.dialled) link.address = address
      const first = this.options.workerId < peerId
      const due = first || now - link.wantedSince >= (this.options.dialGraceMs ?? 1_000)
      if (link.stream && link.dialled && link.address !== address) {
        link.address = address
        this.dial(link)
      } else if (due && !link.stream && !link.timer) {
        link.address = address
        link.dialled = true
        this.dial(link)
      }
    }
    for (const [peerId, link] of this.links) {
      // A stream the peer opened is the peer's to close.
      if (peers.has(peerId) || (!link.dialled && link.stream)) continue
      this.close(link)
      this.links.delete(peerId)
    }
  }

  /** Every peer with a link record (open or not). */
  peerIds(): string[] {
    return [...this.links.keys()].sort()
  }

  /** Peers with an open stream. */
  connected(): string[] {
    return [...this.links.values()].filter((l) => l.stream !== undefined).map((l) => l.peerId).sort()
  }

  /** Queue frames for a peer; written at the next `flush`. Dropped when the link is down. */
  send(peerId: string, frame: NeighbourFrame): boolean {
    const link = this.links.get(peerId)
    if (!link?.stream) return false
    this.counters.framesQueued++
    const f = frame.frame
    if (f?.$case === 'ghosts') {
      const src = f.value.source
      const k = src ? `${src.worldId}:${src.partitionId}` : ''
      if (link.ghosts.has(k)) this.counters.ghostsSuperseded++
      link.ghosts.set(k, frame)
      return true
    }
    if (f?.$case === 'handoff') {
      // A resend of an offer not written yet: the peer needs it once, with the newest state.
      const id = f.value.handoffId
      const i = link.control.findIndex((q) => q.frame?.$case === 'handoff' && q.frame.value.handoffId === id)
      if (i >= 0) {
        link.control[i] = frame
        this.counters.offersReplaced++
        return true
      }
    }
    link.control.push(frame)
    return true
  }

  /** Frames queued on a link and not written yet (for tests and metrics). */
  queued(peerId: string): { control: number; ghosts: number; inFlight: number; buffered: number; state: string; stalledMs: number; written: number; completed: number; received: number } {
    const link = this.links.get(peerId)
    const st = link?.stream
    const state = st ? `${st.destroyed ? 'D' : ''}${st.writableEnded ? 'E' : ''}${st.readableEnded ? 'R' : ''}${link?.dialled ? 'd' : 's'}` : 'none'
    const oldest = link?.writtenAt[0]
    return {
      control: link?.control.length ?? 0, ghosts: link?.ghosts.size ?? 0, inFlight: link?.inFlight ?? 0, buffered: st?.writableLength ?? -1, state,
      stalledMs: oldest === undefined ? 0 : performance.now() - oldest, written: link?.written ?? 0, completed: link?.completed ?? 0, received: link?.received ?? 0,
    }
  }

  /**
   * Write what every link's stream can take: the queued non-ghost frames (offers, replies,
   * forwarded inputs, messages) as one message while at most one other is in flight, and the ghost
   * batches as one message behind them only when nothing else is. Ghost batches are the bulk of a
   * tick's traffic; the peer decodes and handles a message's frames in order, so an offer batched
   * behind them would wait for all of them (and for any pause taken meanwhile). A ghost batch only
   * replaces what the peer shows from the next tick on, so handling it after the other frames of
   * the same flush changes nothing the peer's next tick sees. What a stream cannot take now stays
   * queued and goes out as soon as a write completes.
   */
  flush(): void {
    const now = performance.now()
    const stallMs = this.options.stallMs ?? 3_000
    for (const link of this.links.values()) {
      const oldest = link.writtenAt[0]
      if (link.stream && oldest !== undefined && now - oldest > stallMs) this.reopen(link, now - oldest)
      this.flushLink(link)
    }
  }

  /**
   * A stream that stopped completing writes while open (its HTTP/2 connection's flow-control window
   * stays shut, and nothing errors or times out) is given up and the link dialled again on a fresh
   * connection. Whichever side notices dials: the peer takes the new stream in place of the old one
   * (`serve`), so a stall seen only by the side that accepted the stream heals too.
   */
  private reopen(link: Link, stalledMs: number): void {
    this.counters.stalls++
    this.options.logger.warn(
      { peer: link.peerId, stalledMs: Math.round(stalledMs), unfinished: link.unfinished.length, queued: link.control.length },
      'neighbour link: writes stopped completing; re-opening it',
    )
    link.address = this.options.addressOf?.(link.peerId) ?? link.address
    if (link.address === '') {
      // Accepted from a peer whose address we do not know: drop the stream; the peer redials.
      this.close(link)
      return
    }
    link.dialled = true
    this.dial(link)
  }

  /**
   * A link's stream is gone (re-opened, replaced, broken): what the peer may not have received goes
   * back to the head of the queue for the next stream. Unfinished writes may not have reached it:
   * all their frames (ghost batches among them are stale by now and dropped). Writes completed
   * lately were taken by HTTP/2 but may sit unread in a wedged connection: their replies, forwarded
   * inputs and relay notices are sent again, which is harmless when they did arrive (answers are
   * final per handoff id, inputs are taken once per sequence number, a relay closes once). Their
   * offers are not: the border re-sends every offer still unanswered, and an offer answered long ago
   * and replayed could be judged afresh. Nor their game messages: at most once, never twice.
   */
  private salvage(link: Link): void {
    const since = performance.now() - 2 * (this.options.stallMs ?? 3_000)
    const replayed = link.recent.filter((r) => r.at >= since).flatMap((r) => r.frames)
    const unfinished = link.unfinished.flat().filter((f) => f.frame?.$case !== 'ghosts')
    if (replayed.length + unfinished.length > 0) link.control = [...replayed, ...unfinished, ...link.control]
    link.recent = []
    link.unfinished = []
    link.writtenAt = []
    link.inFlight = 0
  }

  /** Keep a completed write's frames that are safe and useful to send again (see `reopen`). */
  private remember(link: Link, frames: NeighbourFrame[]): void {
    const now = performance.now()
    const keep = frames.filter((f) => f.frame?.$case === 'handoffReply' || f.frame?.$case === 'forwardedInput' || f.frame?.$case === 'relayClosed')
    if (keep.length > 0) link.recent.push({ at: now, frames: keep })
    const since = now - 2 * (this.options.stallMs ?? 3_000)
    while ((link.recent[0]?.at ?? now) < since) link.recent.shift()
  }

  private flushLink(link: Link): void {
    const stream = link.stream
    if (!stream) return
    // In messages of a bounded size (see `MAX_MESSAGE_BYTES`), up to two in flight.
    while (link.control.length > 0 && link.inFlight <= 1) {
      let n = 0
      let bytes = 0
      for (const f of link.control) {
        const b = approxBytes(f)
        if (n > 0 && bytes + b > MAX_MESSAGE_BYTES) break
        bytes += b
        n++
      }
      this.write(link, stream, link.control.splice(0, n))
    }
    if (link.ghosts.size > 0 && link.inFlight === 0) {
      const frames = [...link.ghosts.values()]
      link.ghosts.clear()
      this.write(link, stream, frames)
    }
  }

  private write(link: Link, stream: Stream, frames: NeighbourFrame[]): void {
    this.counters.framesOut += frames.length
    link.inFlight++
    link.written++
    link.writtenAt.push(performance.now())
    link.unfinished.push(frames)
    if (handoffTrace.enabled) traceFrames(frames, 'offerWritten', 'replyWritten')
    stream.write({ frames }, () => {
      // A stream replaced meanwhile (a redial) has its own count; its queue moved on with the link.
      if (link.stream !== stream) return
      link.inFlight--
      link.completed++
      link.writtenAt.shift()
      this.remember(link, link.unfinished.shift() ?? [])
      this.flushLink(link)
    })
  }

  stop(): void {
    this.stopped = true
    for (const link of this.links.values()) this.close(link)
    this.links.clear()
  }

  private ensure(peerId: string, address: string, dialled: boolean): Link {
    let link = this.links.get(peerId)
    if (!link) {
      link = { peerId, stream: undefined, dialled, address, client: undefined, control: [], ghosts: new Map(), inFlight: 0, writtenAt: [], unfinished: [], recent: [], written: 0, completed: 0, received: 0, failures: 0, timer: undefined, wantedSince: performance.now() }
      this.links.set(peerId, link)
    }
    return link
  }

  private hello(): NeighbourFrame {
    return { frame: { $case: 'hello', value: { workerId: this.options.workerId, owned: this.options.owned() } } }
  }

  private receive(peerId: string, frames: NeighbourFrame[]): void {
    this.counters.framesIn += frames.length
    if (handoffTrace.enabled) traceFrames(frames, 'offerReceived', 'replyReceived')
    const link = this.links.get(peerId)
    if (link) link.received++
    const rest = frames.filter((f) => f.frame?.$case !== 'hello')
    if (rest.length === 0) return
    const start = handoffTrace.enabled ? handoffTrace.now() : 0
    this.options.onFrames(peerId, rest)
    if (handoffTrace.enabled) handoffTrace.tick({ worker: `${this.options.workerId}:frames`, start, stepped: start, bordered: start, end: handoffTrace.now() })
  }

  private attach(link: Link, stream: Stream): void {
    if (link.stream && link.stream !== stream) {
      this.salvage(link)
      link.stream.end()
    }
    link.stream = stream
    link.inFlight = 0
    link.writtenAt = []
    link.unfinished = []
    link.recent = []
    link.failures = 0
    this.counters.connects++
  }

  private dial(link: Link): void {
    this.close(link)
    if (this.stopped) return
    const client = new NeighbourServiceClient(link.address, credentials.createInsecure(), CHANNEL_OPTIONS)
    link.client = client
    const stream = client.link()
    this.attach(link, stream)
    stream.write({ frames: [this.hello()] })
    stream.on('data', (msg: LinkResponse) => this.receive(link.peerId, msg.frames))
    const retry = (err?: unknown) => {
      if (link.stream !== stream) return
      link.stream = undefined
      this.salvage(link)
      if (this.stopped || this.links.get(link.peerId) !== link) return
      link.failures++
      const base = this.options.backoffMs ?? 100
      const delay = Math.min(this.options.maxBackoffMs ?? 3_000, base * 2 ** Math.min(10, link.failures - 1))
      this.options.logger.debug({ peer: link.peerId, err, delay }, 'neighbour link down; redialling')
      link.timer = setTimeout(() => {
        link.timer = undefined
        // The peer may have dialled us meanwhile.
        if (!link.stream && this.links.get(link.peerId) === link) this.dial(link)
      }, delay)
      link.timer.unref()
    }
    stream.on('error', retry)
    stream.on('end', () => retry())
  }

  private close(link: Link): void {
    if (link.timer) clearTimeout(link.timer)
    link.timer = undefined
    const stream = link.stream
    link.stream = undefined
    if (stream) {
      this.salvage(link)
      if ('cancel' in stream) stream.cancel()
      else stream.end()
    }
    link.client?.close()
    link.client = undefined
  }
}

/** Stamp the handoff stages a batch of frames passes (tracing on only). */
function traceFrames(frames: readonly NeighbourFrame[], offer: 'offerWritten' | 'offerReceived', reply: 'replyWritten' | 'replyReceived'): void {
  for (const f of frames) {
    if (f.frame?.$case === 'handoff') handoffTrace.mark(f.frame.value.handoffId, offer)
    else if (f.frame?.$case === 'transfer') for (const o of f.frame.value.offers) handoffTrace.mark(o.handoffId, offer)
    // The answer, not the ticket that may follow it.
    else if (f.frame?.$case === 'handoffReply' && f.frame.value.ticket === '') handoffTrace.mark(f.frame.value.handoffId, reply)
  }
}
