/**
 * Asks the coordinator leader to place a room (gRPC `PlaceRoom`). The leader's address comes from
 * the store election (or a fixed override); a standby that answers `placed: false` with the
 * leader's address is followed, a bounded number of times.
 */
import { parseLeaderInfo } from '../core/leader.ts'
import { Metadata, credentials } from '@grpc/grpc-js'
import type { Logger } from '../core/log.ts'
import { Election } from '../core/store/election.ts'
import type { Observation } from '../core/store/election.ts'
import type { Keys } from '../core/store/keys.ts'
import type { ClusterStore } from '../core/store/types.ts'
import { CoordinatorServiceClient } from '../proto/gen/tessera/v1/coordinator.ts'
import type { PlaceRoomRequest, PlaceRoomResponse } from '../proto/gen/tessera/v1/coordinator.ts'

export type Placement =
  | { placed: true; workerId: string; clientUrl: string; partitionId: string; epoch: number; roomRecordRevision: number }
  | { placed: false; reason: string; workersWanted: number; retryable: boolean; idTaken?: boolean }

export interface PlaceRequest {
  roomId: string
  mode: string
  maxPlayers: number
  labels: Record<string, string>
  region?: string
  /**
   * The room record in state `placing`, not yet written: the leader creates it open, with seats
   * reserved for `players`, in its placement transaction, if the id is free (else `idTaken`).
   */
  create?: { recordJson: string; players: string[]; reserveUntil: number }
}

export interface PlacementClientOptions {
  store: ClusterStore
  keys: Keys
  logger: Logger
  /** Fixed coordinator address; default: the elected leader's. */
  address?: string
  /** Deadline of one call, ms. Default 5000. */
  timeoutMs?: number
}

export class PlacementClient {
  private readonly clients = new Map<string, CoordinatorServiceClient>()
  private observation: Observation | undefined
  private leaderAddress = ''

  constructor(private readonly options: PlacementClientOptions) {
    if (options.address) this.leaderAddress = options.address
  }

  async start(): Promise<void> {
    if (this.options.address) return
    const election = new Election(this.options.store, this.options.keys.leader(), this.options.logger)
    this.observation = election.observe(
      (value) => {
        this.leaderAddress = parseLeaderInfo(value)?.grpcAddress ?? ''
      },
      (err) => this.options.logger.warn({ err }, 'leader observation ended'),
    )
    await this.observation.ready
  }

  async stop(): Promise<void> {
    await this.observation?.cancel()
    for (const c of this.clients.values()) c.close()
    this.clients.clear()
  }

  async place(req: PlaceRequest): Promise<Placement> {
    let address = this.leaderAddress
    const request: PlaceRoomRequest = {
      roomId: req.roomId, mode: req.mode, maxPlayers: req.maxPlayers, labels: req.labels, region: req.region ?? '', strategy: '',
      roomRecordJson: req.create?.recordJson ?? '', roomRecordRevision: 0, reserveFor: req.create?.players ?? [], reserveUntilMs: req.create?.reserveUntil ?? 0,
      createRoomRecord: req.create !== undefined,
    }
    for (let hop = 0; hop < 3; hop++) {
      if (!address) return { placed: false, reason: 'no coordinator leader is known', workersWanted: 0, retryable: true }
      let res: PlaceRoomResponse
      try {
        res = await this.call(address, request)
      } catch (err) {
        this.options.logger.warn({ err, address }, 'PlaceRoom failed')
        return { placed: false, reason: `coordinator unreachable: ${(err as Error).message}`, workersWanted: 0, retryable: true }
      }
      if (res.placed) {
        return {
          placed: true, workerId: res.workerId, clientUrl: res.clientUrl, partitionId: res.partition?.partitionId ?? 'p0', epoch: res.partition?.epoch ?? 1,
          roomRecordRevision: res.roomRecordRevision,
        }
      }
      if (res.leaderAddress && res.leaderAddress !== address) {
        address = res.leaderAddress
        continue
      }
      if (res.roomIdTaken) return { placed: false, reason: res.reason || 'room id taken', workersWanted: 0, retryable: true, idTaken: true }
      return { placed: false, reason: res.reason || 'not placed', workersWanted: res.workersWanted, retryable: res.reason === 'not the leader' }
    }
    return { placed: false, reason: 'could not reach the coordinator leader', workersWanted: 0, retryable: true }
  }

  private call(address: string, request: PlaceRoomRequest): Promise<PlaceRoomResponse> {
    let client = this.clients.get(address)
    if (!client) {
      client = new CoordinatorServiceClient(address, credentials.createInsecure())
      this.clients.set(address, client)
    }
    const deadline = new Date(Date.now() + (this.options.timeoutMs ?? 5_000))
    const c = client
    return new Promise((resolve, reject) => {
      c.placeRoom(request, new Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)))
    })
  }
}
