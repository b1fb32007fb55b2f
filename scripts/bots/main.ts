/**
 * Bots CLI: N headless players joining a room or a world through the gateway.
 *
 *   node --import tsx scripts/bots/main.ts --gateway http://127.0.0.1:8080 --room ROOM --bots 50
 *   node --import tsx scripts/bots/main.ts --gateway URL --world WORLD --bots 100 --behaviour crowd --target 200,200
 *
 * Flags: --bots (10), --behaviour wander|path|crowd (wander), --hz (20), --seconds (run until
 * Ctrl-C), --target x,y (crowd), --player-prefix (bot), --batch (25), --transport webrtc|websocket|auto
 * (webrtc), --json. Prints a progress line
 * every 5 s and a report at the end; exits 1 when a check failed.
 */
import { parseArgs } from 'node:util'
import { requestGrant } from '../../client/gateway-api.ts'
import { nodeHttpFetch } from '../../client/polyfill-node.ts'
import type { JoinTarget } from '../../client/gateway-api.ts'
import { isBehaviourName } from './behaviours.ts'
import { runBots } from './run.ts'
import type { SwarmReport } from './run.ts'

function fail(message: string): never {
  process.stderr.write(`bots: ${message}\n`)
  process.exit(2)
}

function line(r: SwarmReport): string {
  return `bots ${r.connected}/${r.bots} connected · snapshots ${r.snapshots} (gaps ${r.tickGaps}) · inputs ${r.inputsAcked}/${r.inputsSent} acked · reconnects ${r.reconnects} · errors ${r.errors}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string' }, room: { type: 'string' }, world: { type: 'string' }, bots: { type: 'string', default: '10' },
      behaviour: { type: 'string', default: 'wander' }, hz: { type: 'string', default: '20' }, seconds: { type: 'string' },
      target: { type: 'string' }, 'player-prefix': { type: 'string', default: 'bot' }, batch: { type: 'string', default: '25' },
      transport: { type: 'string', default: 'webrtc' }, json: { type: 'boolean', default: false },
    },
  })
  if (!values.gateway) fail('--gateway URL is required')
  if ((values.room === undefined) === (values.world === undefined)) fail('give exactly one of --room ID or --world ID')
  const behaviour = values.behaviour
  if (!isBehaviourName(behaviour)) fail('--behaviour must be wander, path or crowd')
  const count = Number(values.bots)
  const hz = Number(values.hz)
  if (!(count > 0) || !(hz > 0)) fail('--bots and --hz must be positive numbers')
  const [tx, ty] = (values.target ?? '').split(',').map(Number)
  const target = tx !== undefined && ty !== undefined && Number.isFinite(tx) && Number.isFinite(ty) && values.target ? { x: tx, y: ty } : undefined
  const joinTarget: JoinTarget = values.room !== undefined ? { room: values.room } : { world: values.world as string }
  const gateway = values.gateway
  const transport = values.transport
  if (transport !== 'webrtc' && transport !== 'websocket' && transport !== 'auto') fail('--transport must be webrtc, websocket or auto')
  const prefix = values['player-prefix']

  let joinErrors = 0
  const swarm = await runBots({
    count, hz, behaviour, batch: Number(values.batch), transport,
    ...(target ? { behaviourOptions: { target } } : {}),
    ...(values.seconds !== undefined ? { seconds: Number(values.seconds) } : {}),
    join: async (i) => {
      const grant = await requestGrant({ gateway, playerId: `${prefix}-${i}`, fetch: nodeHttpFetch }, joinTarget)
      return { url: grant.workerUrl, ticket: grant.ticket }
    },
    onJoinError: (i, err) => {
      joinErrors++
      process.stderr.write(`bot ${i}: could not join: ${err instanceof Error ? err.message : String(err)}\n`)
    },
  })
  process.stdout.write(`${line(swarm.report())}${joinErrors ? ` · ${joinErrors} failed to join` : ''}\n`)
  const progress = setInterval(() => process.stdout.write(`${line(swarm.report())}\n`), 5000)
  process.once('SIGINT', () => void swarm.stop())
  process.once('SIGTERM', () => void swarm.stop())
  const final = await swarm.done
  clearInterval(progress)
  process.stdout.write(`${line(final)}\n`)
  process.stdout.write(`checks: ${final.ok ? 'ok' : 'FAILED'} (unacked ${final.unacked}, ack regressions ${final.ackRegressions}, silent bots ${final.silentBots}, max snapshot gap ${final.maxSnapshotGapMs.toFixed(0)} ms)\n`)
  if (values.json) {
    const { perBot: _perBot, ...summary } = final
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  }
  process.exit(final.ok ? 0 : 1)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
