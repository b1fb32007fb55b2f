/**
 * `tessera dev`: the whole cluster in one process on the in-memory store: a coordinator (operator
 * API and dashboard), several workers sharing the process's one client transport, a demo world, and
 * (once a gateway is available) bots. The same components as production, with a different store.
 */
import { z } from 'zod'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptions } from '../../coordinator/options.ts'
import { opt } from '../../core/config.ts'
import { componentLogger, createLogger } from '../../core/log.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { playerRecords } from '../../worker/player-records.ts'
import { Worker } from '../../worker/worker.ts'
import { Gateway } from '../../gateway/gateway.ts'
import { gatewayOptions } from '../../gateway/options.ts'
import { builtDashboardDir } from './dashboard.ts'
import { stopChild } from '../lib/child.ts'
import { serviceOptions, untilSignal } from './service.ts'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'

export const devOptionsSchema = z.object({
  /** Workers in the process. Default 2. */
  workers: opt.int().min(1).max(16).default(2),
  /** Coordinator operator API and dashboard port. Default 7070. */
  httpPort: opt.port().default(7070),
  /** Gateway (players' HTTP front door) port. Default 8080. */
  gatewayPort: opt.port().default(8080),
  /** Player transport (signalling) port; 0 picks one. Default 9208. */
  port: opt.port().default(9208),
  /** Side of the demo world, world units. Default 2000. */
  worldSize: opt.number().positive().default(2000),
  /** Bot players walking the demo world (a separate process joining through the gateway). Default 100. */
  bots: opt.int().min(0).max(1000).default(100),
  /** NPC walkers in the demo world. Default 400. */
  npcs: opt.int().min(0).default(400),
  /**
   * Each worker's load budget, ms/s. Default 60: small on purpose, so that the demo's modest load
   * (a few hundred walkers and bots) is enough to make the planner split the world over the workers.
   */
  capacity: opt.number().positive().default(60),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('warn'),
})

export async function runDev(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const options = serviceOptions(devOptionsSchema, argv, env)
  const root = createLogger({ level: options.logLevel, base: { node: 'dev' } })
  const store = new MemoryStore({ logger: componentLogger(root, 'store') })
  const keys = scopedKeys()

  const coordinator = new Coordinator(
    store,
    keys,
    coordinatorOptions({ id: 'dev-coordinator', grpcPort: 0, httpPort: options.httpPort, logLevel: options.logLevel, dashboardDir: builtDashboardDir() }),
    componentLogger(root, 'coordinator'),
  )
  await coordinator.start()

  const tickets = await generateTicketKeys()
  const publicKeys = new Map([['dev', tickets.publicKey]])
  const workerIds = Array.from({ length: options.workers }, (_, i) => `dev-w${i + 1}`)
  const transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => publicKeys, (id) => workerIds.includes(id)),
    port: options.port,
    logger: componentLogger(root, 'transport'),
  })
  const workers = workerIds.map(
    (id) =>
      new Worker({
        store, keys, transport, logger: componentLogger(root, 'worker', { worker: id }),
        options: workerOptions({ id, port: transport.port, grpcPort: 0, opsPort: 0, npcs: options.npcs, capacity: options.capacity, logLevel: options.logLevel }),
        game: () => createDemoGame({}),
        onPlayer: playerRecords({ store, keys, workerId: id, logger: componentLogger(root, 'worker', { worker: id }) }),
        ticketSigner: { privateKey: tickets.privateKey, kid: 'dev' },
      }),
  )
  for (const w of workers) await w.start()

  const gateway = new Gateway(
    store, keys,
    gatewayOptions({ id: 'dev-gateway', port: options.gatewayPort, coordinatorAddress: coordinator.addresses.grpc, logLevel: options.logLevel }),
    componentLogger(root, 'gateway'),
    { signingKey: { privateKey: tickets.privateKey, kid: 'dev' } },
  )
  await gateway.start()

  const size = options.worldSize
  await store.put(
    keys.world('lobby'),
    JSON.stringify({ id: 'lobby', kind: 'world', bounds: { minX: 0, minY: 0, maxX: size, maxY: size }, labels: {}, createdAt: Date.now() }),
  )

  // Bots join through the gateway like players: wait until the world has an owner to send them to.
  await waitFor(async () => {
    const map = (await store.get(keys.worldMap('lobby')))?.value
    return map !== undefined && !map.includes('"owner":null')
  })
  const bots = options.bots > 0 ? startBots(gateway.address, options.bots) : undefined

  const api = coordinator.addresses.api
  process.stdout.write(
    [
      'Tessera dev cluster is running (in-memory store).',
      `  dashboard and operator API  ${api}/   (${api}/api/v1/cluster)`,
      `  gateway (players join here)  ${gateway.address}   (POST ${gateway.address}/v1/worlds/lobby/join)`,
      `  players connect to          ${transport.url}:${transport.port}`,
      `  workers                     ${workerIds.join(', ')}`,
      `  bots                        ${options.bots} walking the world "lobby" (--bots N to change)`,
      `  try: node bin/tessera.js ctl workers --url ${api}`,
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  )
  process.stdout.write(`${JSON.stringify({ ready: 'dev', api, gateway: gateway.address, clientUrl: `${transport.url}:${transport.port}` })}\n`)
  const signal = await untilSignal()
  const log = componentLogger(root, 'dev')
  log.info({ signal }, 'stopping: bots, gateway')
  if (bots) await stopChild(bots)
  await gateway.stop()
  log.info('stopping: workers')
  for (const w of workers) await w.stop()
  log.info('stopping: player transport')
  await transport.close()
  log.info('stopping: coordinator')
  await coordinator.stop()
  await store.close()
  log.info('stopped')
  return 0
}

/** The bots run in a process of their own: their WebRTC work must not share the workers' event loop. */
function startBots(gateway: string, count: number): ChildProcess {
  const main = join(import.meta.dirname, '..', 'bots', 'main.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--gateway', gateway, '--world', 'lobby', '--bots', String(count)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  process.once('exit', () => child.kill('SIGKILL'))
  return child
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the demo world got no owner in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}
