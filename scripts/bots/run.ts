/**
 * `runBots`: N headless players joined in batches, each walking by a behaviour and checking what
 * it receives. Used by `tessera dev`, the benchmarks and the bots CLI (`main.ts`).
 */
import type { Grant } from '../../client/gateway-api.ts'
import { installNodeWebRTC, installNodeWebSocket } from '../../client/polyfill-node.ts'
import type { TransportKind } from '../../client/transports.ts'
import { createBehaviour, seededRandom } from './behaviours.ts'
import type { Behaviour, BehaviourName, BehaviourOptions } from './behaviours.ts'
import { Bot } from './bot.ts'
import type { BotReport } from './bot.ts'

export interface RunBotsOptions {
  count: number
  /** Where bot `index` connects; called again on every reconnection. */
  join: (index: number) => Promise<Grant>
  behaviour: BehaviourName | ((index: number) => Behaviour)
  behaviourOptions?: BehaviourOptions
  /** Inputs per second per bot. Default 20 (one per tick at the default tick rate). */
  hz?: number
  /** Run this long, then stop by themselves (`done` resolves with the report). Default: until `stop()`. */
  seconds?: number
  /** Joins in flight at once. Default 25. */
  batch?: number
  /** Seed of the behaviours' RNGs. Default 1. */
  seed?: number
  /**
   * Tick all bots of the process together, so their inputs leave as one burst per tick (as the
   * `transport` benchmark's bots do); false spreads them like independent players. Default true.
   */
  alignTicks?: boolean
  /** The player library's transport (`webrtc`, `websocket`, `auto`). Default `webrtc`. */
  transport?: TransportKind
  /** Bots that failed to join are reported, not thrown. */
  onJoinError?: (index: number, err: unknown) => void
}

export interface SwarmReport {
  bots: number
  joined: number
  connected: number
  snapshots: number
  tickGaps: number
  staleSnapshots: number
  badSnapshots: number
  inputsSent: number
  inputsAcked: number
  /** Inputs sent and never acknowledged as applied (should be 0 after `stop`). */
  unacked: number
  /** Inputs that fell out of the redundancy window unacknowledged (possibly lost). */
  inputsUnconfirmed: number
  ackRegressions: number
  reconnects: number
  bytesIn: number
  /** Bots that have not received a single snapshot. */
  silentBots: number
  maxSnapshotGapMs: number
  errors: number
  /** Every bot joined, received snapshots, and had each of its inputs acknowledged in order. */
  ok: boolean
  perBot: BotReport[]
}

export interface BotSwarm {
  readonly bots: readonly Bot[]
  report(): SwarmReport
  /** Resets the snapshot-gap measurement of every bot (after a warm-up). */
  resetGaps(): void
  /** Stops inputs, lets the last ones be acknowledged (up to `drainMs`), reports, closes everything. */
  stop(drainMs?: number): Promise<SwarmReport>
  /** With `seconds`: resolves with the report when the run ends. */
  readonly done: Promise<SwarmReport>
}

export async function runBots(options: RunBotsOptions): Promise<BotSwarm> {
  installNodeWebRTC()
  installNodeWebSocket()
  const hz = options.hz ?? 20
  const batch = Math.max(1, options.batch ?? 25)
  const seed = options.seed ?? 1
  const bots: Bot[] = []
  for (let i = 0; i < options.count; i++) {
    const random = seededRandom(seed * 7919 + i)
    const behaviour = typeof options.behaviour === 'function' ? options.behaviour(i) : createBehaviour(options.behaviour, random, options.behaviourOptions)
    bots.push(new Bot(i, behaviour, hz, { alignTicks: options.alignTicks ?? true, transport: options.transport ?? 'webrtc' }))
  }
  for (let i = 0; i < bots.length; i += batch) {
    await Promise.all(
      bots.slice(i, i + batch).map(async (bot) => {
        try {
          await bot.join(() => options.join(bot.index))
        } catch (err) {
          options.onJoinError?.(bot.index, err)
        }
      }),
    )
  }

  let stopping: Promise<SwarmReport> | undefined
  let finished: (report: SwarmReport) => void = () => undefined
  const done = new Promise<SwarmReport>((resolve) => {
    finished = resolve
  })
  const report = (): SwarmReport => summarize(bots.map((b) => b.report()))
  const stop = (drainMs = 1500): Promise<SwarmReport> => {
    stopping ??= (async () => {
      for (const b of bots) b.pause()
      const deadline = performance.now() + drainMs
      while (performance.now() < deadline && bots.some((b) => b.client.state === 'connected' && b.report().unacked > 0)) {
        await new Promise((r) => setTimeout(r, 50))
      }
      const final = report()
      for (const b of bots) b.close()
      finished(final)
      return final
    })()
    return stopping
  }
  const timer = options.seconds !== undefined ? setTimeout(() => void stop(), options.seconds * 1000) : undefined
  return {
    bots,
    report,
    resetGaps: () => bots.forEach((b) => b.resetGap()),
    stop: (drainMs) => {
      clearTimeout(timer)
      return stop(drainMs)
    },
    done,
  }
}

export function summarize(perBot: BotReport[]): SwarmReport {
  const sum = (f: (r: BotReport) => number): number => perBot.reduce((s, r) => s + f(r), 0)
  const joined = perBot.filter((r) => r.joined).length
  const silentBots = perBot.filter((r) => r.joined && r.stats.snapshots === 0).length
  const unacked = sum((r) => r.unacked)
  const ackRegressions = sum((r) => r.stats.ackRegressions)
  return {
    bots: perBot.length,
    joined,
    connected: perBot.filter((r) => r.state === 'connected').length,
    snapshots: sum((r) => r.stats.snapshots),
    tickGaps: sum((r) => r.stats.tickGaps),
    staleSnapshots: sum((r) => r.stats.staleSnapshots),
    badSnapshots: sum((r) => r.stats.badSnapshots),
    inputsSent: sum((r) => r.stats.inputsSent),
    inputsAcked: sum((r) => r.stats.inputsAcked),
    unacked,
    inputsUnconfirmed: sum((r) => r.stats.inputsUnconfirmed),
    ackRegressions,
    reconnects: sum((r) => r.stats.reconnects),
    bytesIn: sum((r) => r.stats.bytesIn),
    silentBots,
    maxSnapshotGapMs: Math.max(0, ...perBot.map((r) => r.maxSnapshotGapMs)),
    errors: sum((r) => r.errors.length),
    ok: joined === perBot.length && silentBots === 0 && unacked === 0 && ackRegressions === 0,
    perBot,
  }
}
