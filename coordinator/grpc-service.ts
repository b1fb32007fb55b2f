/**
 * The coordinator's gRPC service: workers stream load reports in, gateways ask for room placements.
 * Only the leader acts; a standby answers each call with the leader's address so the caller
 * reconnects there.
 */
import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { toGrpcError } from '../core/grpc.ts'
import type { Logger } from '../core/log.ts'
import type { Leadership } from '../core/store/election.ts'
import type {
  CoordinatorServiceServer,
  PlaceRoomRequest,
  PlaceRoomResponse,
  ReportLoadRequest,
  ReportLoadResponse,
} from '../proto/gen/tessera/v1/coordinator.ts'
import type { LoadTable } from './load-table.ts'
import type { RoomPlacer, RoomRequest } from './room-placement.ts'

export interface CoordinatorGrpcDeps {
  loads: LoadTable
  placer: RoomPlacer
  logger: Logger
  leadership: () => Leadership | undefined
  /** gRPC address of the current leader, as the election says ('' when unknown). */
  leaderAddress: () => string
  /** Called when a report arrives, after it was accepted (metrics, reconciliation). */
  onReport?: (report: ReportLoadRequest) => void
}

export function coordinatorService(deps: CoordinatorGrpcDeps): CoordinatorServiceServer {
  return {
    reportLoad(call: ServerDuplexStream<ReportLoadRequest, ReportLoadResponse>) {
      call.on('data', (report: ReportLoadRequest) => {
        const lead = deps.leadership()
        if (!lead || lead.isLost) {
          call.write({ accepted: false, leaderAddress: deps.leaderAddress(), seq: report.seq })
          return
        }
        if (!report.workerId) {
          call.write({ accepted: false, leaderAddress: '', seq: report.seq })
          return
        }
        if (deps.loads.accept(report)) deps.onReport?.(report)
        call.write({ accepted: true, leaderAddress: '', seq: report.seq })
      })
      call.on('error', (err) => deps.logger.debug({ err }, 'load stream ended with an error'))
      call.on('end', () => call.end())
    },

    placeRoom(call: ServerUnaryCall<PlaceRoomRequest, PlaceRoomResponse>, callback: sendUnaryData<PlaceRoomResponse>) {
      const lead = deps.leadership()
      const empty: PlaceRoomResponse = {
        placed: false, workerId: '', clientUrl: '', workersWanted: 0, leaderAddress: '', reason: '', roomRecordRevision: 0, roomIdTaken: false,
      }
      if (!lead || lead.isLost) {
        callback(null, { ...empty, leaderAddress: deps.leaderAddress(), reason: 'not the leader' })
        return
      }
      const r = call.request
      if (!r.roomId || !/^[A-Za-z0-9_-]{1,64}$/.test(r.roomId) || r.maxPlayers < 1) {
        callback(toGrpcError(Object.assign(new Error('roomId must be 1-64 URL-safe characters and maxPlayers ≥ 1'), { code: 'bad_request' })), null)
        return
      }
      const req: RoomRequest = { roomId: r.roomId, maxPlayers: r.maxPlayers, labels: { ...r.labels } }
      if (r.mode) req.mode = r.mode
      if (r.region) req.region = r.region
      if (r.strategy === 'packed' || r.strategy === 'distributed') req.strategy = r.strategy
      if (r.bounds && r.bounds.maxX > r.bounds.minX && r.bounds.maxY > r.bounds.minY) req.bounds = r.bounds
      if (r.roomRecordJson && r.createRoomRecord) {
        req.create = { recordJson: r.roomRecordJson, players: [...r.reserveFor], reserveUntil: r.reserveUntilMs }
      } else if (r.roomRecordJson && r.roomRecordRevision > 0) {
        req.open = { recordJson: r.roomRecordJson, revision: r.roomRecordRevision, players: [...r.reserveFor], reserveUntil: r.reserveUntilMs }
      }
      deps.placer.place(lead, req).then(
        (p) => {
          if (p.placed) {
            callback(null, {
              ...empty,
              placed: true,
              workerId: p.workerId,
              clientUrl: p.clientUrl,
              partition: { worldId: r.roomId, partitionId: p.partitionId, epoch: p.epoch },
              roomRecordRevision: p.roomRecordRevision ?? 0,
            })
          } else callback(null, { ...empty, workersWanted: p.workersWanted, reason: p.reason, roomIdTaken: p.idTaken === true })
        },
        (err: unknown) => {
          deps.logger.warn({ err, roomId: r.roomId }, 'room placement failed')
          callback(toGrpcError(err), null)
        },
      )
    },
  }
}
