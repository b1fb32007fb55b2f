/**
 * What the coordinator leader announces through the store's election (`keys.leader()`), and how
 * workers and gateways read it to find where to send load reports and room placements.
 */

export interface LeaderInfo {
  id: string
  /** host:port of the leader's gRPC service. */
  grpcAddress: string
  /** Base URL of the leader's operator API. */
  apiUrl: string
}

export function encodeLeaderInfo(info: LeaderInfo): string {
  return JSON.stringify(info)
}

/** The announcement, or null for no leader or a value this version cannot read. */
export function parseLeaderInfo(value: string | undefined): LeaderInfo | null {
  if (!value) return null
  try {
    const v = JSON.parse(value) as Partial<Record<keyof LeaderInfo, unknown>>
    if (typeof v.id !== 'string') return null
    return {
      id: v.id,
      grpcAddress: typeof v.grpcAddress === 'string' ? v.grpcAddress : '',
      apiUrl: typeof v.apiUrl === 'string' ? v.apiUrl : '',
    }
  } catch {
    return null
  }
}
