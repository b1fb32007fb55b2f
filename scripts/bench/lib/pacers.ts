/**
 * Players pacing back and forth across a border for the `handoff` benchmark: each walks one way
 * until it is `reach` units past the border, then turns, sending one input per tick. They are
 * either in-memory connections to the worker (in the bench's process), or the player library over
 * geckos.io, which runs in a child process of its own (`childGroup`): its WebRTC work then takes
 * no time from the workers' event loop, and the bench's figures are the server's alone.
 *
 * A group is driven the same way wherever its players run: wait for their first snapshots, mark the
 * start of the measured window, halt, and read one report per player (inputs sent, switches, and
 * the gaps between snapshots it applied within the window).
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { TesseraClient } from '../../../client/client.ts'
import { installNodeWebRTC } from '../../../client/polyfill-node.ts'
import { importPrivateKeyPem, issueTicket } from '../../../core/tickets.ts'
import type { DirectPlayer } from './direct-player.ts'
import { ServerChild } from './server-child.ts'
import { startTicker } from './ticker.ts'
import { until } from './until.ts'

/** One pacing player, whichever kind. */
export interface Pacer {
  playerId: string
  /** performance.now() of every snapshot applied. */
  arrivals: number[]
  /** Its entity's x in world units, once seen. */
  x(): number | undefined
  walk(moveX: number): void
  /** Inputs sent so far (the last sequence number). */
  sent(): number
  migrations(): number
  standbySwitches(): number
  orderedToMove(): boolean
  close(): void
}

/** What a player saw, for the bench's figures. */
export interface PacerReport {
  playerId: string
  sent: number
  migrations: number
  standbySwitches: number
  orderedToMove: boolean
  /** Gaps between consecutive snapshots applied in the measured window, ms. */
  gaps: number[]
}

/** Where the players pace: across `border` (an x), turning `reach` units past it, at `hz`. */
export interface PaceParams {
  hz: number
  border: number
  reach: number
}

/** Pacing players, wherever they run. */
export interface PlayerGroup {
  /** Resolves once every player has applied a snapshot. */
  firstSnapshots(timeoutMs: number): Promise<void>
  /** The measured window starts now (gaps are counted from here). */
  measure(): Promise<void>
  /** Stop walking (no more inputs). */
  halt(): Promise<void>
  reports(): Promise<PacerReport[]>
  close(): Promise<void>
}

export function memoryPacer(p: DirectPlayer): Pacer {
  return {
    playerId: p.conn.principal.playerId,
    arrivals: p.arrivals,
    x: () => {
      const me = p.joinedEntity === undefined ? undefined : p.receiver.entity(p.joinedEntity)
      return me ? me.x / 16 : undefined
    },
    walk: (moveX) => p.walk(moveX),
    sent: () => p.seq,
    migrations: () => 0,
    standbySwitches: () => 0,
    orderedToMove: () => p.control.some((m) => m.kind === 'migrate'),
    close: () => p.close(),
  }
}

/** A `TesseraClient` joined to worker wA (partition p1) at `url`; `walk` sets the input its next client tick sends. */
async function clientPacer(playerId: string, url: string, privateKey: CryptoKey): Promise<Pacer> {
  const client = new TesseraClient({ trackEntities: false, alignTicks: true, reconnect: false })
  const arrivals: number[] = []
  let ordered = false
  client.on('snapshot', () => arrivals.push(performance.now()))
  client.on('control', (m) => {
    if (m.kind === 'migrate') ordered = true
  })
  const ticket = await issueTicket(privateKey, { playerId, worldId: 'w', workerId: 'wA', partitionId: 'p1', kid: 'k' })
  await client.joinWithTicket({ url, ticket })
  return {
    playerId,
    arrivals,
    x: () => client.selfPosition()?.x,
    walk: (moveX) => client.sendInput({ moveX, moveY: 0 }),
    sent: () => client.stats().inputsSent,
    migrations: () => client.stats().migrations ?? 0,
    standbySwitches: () => client.stats().standbySwitches ?? 0,
    orderedToMove: () => ordered,
    close: () => client.close(),
  }
}

/** Players in this process, pacing from now on. */
export function localGroup(players: Pacer[], p: PaceParams): PlayerGroup {
  const direction = players.map(() => 1)
  let measureFrom = Infinity
  const stop = startTicker(p.hz, () => {
    players.forEach((player, i) => {
      const x = player.x() ?? p.border
      if (x > p.border + p.reach) direction[i] = -1
      if (x < p.border - p.reach) direction[i] = 1
      player.walk(direction[i] ?? 1)
    })
  })
  return {
    firstSnapshots: (timeoutMs) => until('first snapshots', () => players.every((player) => player.arrivals.length > 0), timeoutMs),
    measure: () => {
      measureFrom = performance.now()
      return Promise.resolve()
    },
    halt: () => {
      stop()
      return Promise.resolve()
    },
    reports: () => Promise.resolve(players.map((player) => {
      const times = player.arrivals.filter((t) => t >= measureFrom)
      const gaps: number[] = []
      for (let i = 1; i < times.length; i++) gaps.push((times[i] as number) - (times[i - 1] as number))
      return {
        playerId: player.playerId, sent: player.sent(), migrations: player.migrations(), standbySwitches: player.standbySwitches(),
        orderedToMove: player.orderedToMove(), gaps,
      }
    })),
    close: () => {
      stop()
      for (const player of players) player.close()
      return Promise.resolve()
    },
  }
}

interface ChildParams extends PaceParams {
  url: string
  privateKeyPem: string
  bots: number
}
type ToChild = { type: 'measure' } | { type: 'halt' } | { type: 'reports' } | { type: 'stop' }
type FromChild = { type: 'ready' } | { type: 'measuring' } | { type: 'halted' } | { type: 'reports'; reports: PacerReport[] }

/**
 * `bots` player-library clients (bot0…), joined to wA at `url` with tickets signed by
 * `privateKeyPem`, pacing in a child process. Resolves once they have all joined.
 */
export async function childGroup(params: ChildParams): Promise<PlayerGroup> {
  const proc = fork(fileURLToPath(import.meta.url), ['serve-clients', JSON.stringify(params)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const child = new ServerChild<ToChild, FromChild>(proc, { type: 'stop' })
  try {
    // Sequential WebRTC connects: up to ~1 s each here. A child that dies first ends the wait.
    await child.next('ready', 30_000 + params.bots * 1_500)
  } catch (err) {
    await child.stop()
    throw err
  }
  return {
    // 'ready' comes once every client has a snapshot.
    firstSnapshots: () => Promise.resolve(),
    measure: async () => void (await child.ask({ type: 'measure' }, 'measuring')),
    halt: async () => void (await child.ask({ type: 'halt' }, 'halted')),
    reports: async () => (await child.ask({ type: 'reports' }, 'reports')).reports,
    close: () => child.stop(),
  }
}

/** The child process of `childGroup`. */
async function serveClients(p: ChildParams): Promise<void> {
  const send = (msg: FromChild) => process.send?.(msg)
  installNodeWebRTC()
  const privateKey = await importPrivateKeyPem(p.privateKeyPem)
  const players: Pacer[] = []
  for (let i = 0; i < p.bots; i++) players.push(await clientPacer(`bot${i}`, p.url, privateKey))
  const group = localGroup(players, p)
  await group.firstSnapshots(30_000)
  process.on('message', (msg: ToChild) => {
    void (async () => {
      if (msg.type === 'measure') {
        await group.measure()
        send({ type: 'measuring' })
      } else if (msg.type === 'halt') {
        await group.halt()
        send({ type: 'halted' })
      } else if (msg.type === 'reports') {
        send({ type: 'reports', reports: await group.reports() })
      } else if (msg.type === 'stop') {
        await group.close()
        process.exit(0)
      }
    })()
  })
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready' })
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'serve-clients') {
  serveClients(JSON.parse(process.argv[3] ?? '{}') as ChildParams).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
