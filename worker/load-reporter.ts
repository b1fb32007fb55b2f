/**
 * Streams this worker's load to the coordinator leader every `intervalMs` over one gRPC stream.
 * The leader's address comes from the store's election; a coordinator that is not (or no longer)
 * the leader answers with the leader's address, and the reporter moves there.
 */
import { credentials } from '@grpc/grpc-js'
import type { ClientDuplexStream } from '@grpc/grpc-js'
import { parseLeaderInfo } from '../core/leader.ts'
import type { Logger } from '../core/log.ts'
import { Election } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore, Watch } from '../core/store/types.ts'
import { CoordinatorServiceClient } from '../proto/gen/tessera/v1/coordinator.ts'
import type { ReportLoadRequest, ReportLoadResponse } from '../proto/gen/tessera/v1/coordinator.ts'

export type LoadSnapshot = Omit<ReportLoadRequest, 'workerId' | 'seq' | 'sentAtMs'>

export interface LoadReporterOptions {
  store: ClusterStore
  keys: Keys
  workerId: string
  /** Report interval, ms. Default 500 (the worker option's default). */
  intervalMs?: number
  /** Measures the load now. */
  collect: () => LoadSnapshot
  logger: Logger
}

export class LoadReporter {
  private seq = 0
  private timer: NodeJS.Timeout | undefined
  private observation: Watch | undefined
  private leaderAddress = ''
  private client: CoordinatorServiceClient | undefined
  private stream: ClientDuplexStream<ReportLoadRequest, ReportLoadResponse> | undefined
  private connectedTo = ''
  private stopped = false
  /** Reports the current leader accepted (for tests and metrics). */
  accepted = 0

  constructor(private readonly options: LoadReporterOptions) {}

  start(): void {
    const election = new Election(this.options.store, this.options.keys.leader())
    this.observation = election.observe((value) => {
      this.leaderAddress = parseLeaderInfo(value)?.grpcAddress ?? ''
    })
    const tick = () => {
      if (this.stopped) return
      this.send()
      this.timer = setTimeout(tick, this.options.intervalMs ?? 500)
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.observation?.cancel()
    this.closeStream()
  }

  /** Send one report now, (re)connecting to the leader first when needed. */
  send(): void {
    if (!this.leaderAddress) return
    if (this.connectedTo !== this.leaderAddress || !this.stream) this.connect(this.leaderAddress)
    const report: ReportLoadRequest = {
      ...this.options.collect(),
      workerId: this.options.workerId,
      seq: ++this.seq,
      sentAtMs: Date.now(),
    }
    this.stream?.write(report)
  }

  private connect(address: string): void {
    this.closeStream()
    this.connectedTo = address
    this.client = new CoordinatorServiceClient(address, credentials.createInsecure())
    const stream = this.client.reportLoad()
    this.stream = stream
    stream.on('data', (res: ReportLoadResponse) => {
      if (res.accepted) this.accepted++
      else if (res.leaderAddress && res.leaderAddress !== this.connectedTo) {
        // The election watch usually says so first; this covers a stale observation.
        this.leaderAddress = res.leaderAddress
        this.connect(res.leaderAddress)
      }
    })
    stream.on('error', (err) => {
      this.options.logger.debug({ err, address }, 'load stream failed; reconnecting on the next report')
      if (this.stream === stream) this.closeStream()
    })
    stream.on('end', () => {
      if (this.stream === stream) this.closeStream()
    })
  }

  private closeStream(): void {
    const stream = this.stream
    this.stream = undefined
    this.connectedTo = ''
    stream?.cancel()
    this.client?.close()
    this.client = undefined
  }
}
