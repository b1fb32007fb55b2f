/**
 * `npm run cluster`: the production shape on one machine. A throwaway etcd member, then every
 * service as its own `tessera` process: a coordinator, workers, a gateway, and bots, with a fresh
 * ticket key pair (the gateway signs, the workers verify). Ctrl-C stops everything.
 *
 *   npm run cluster -- [--workers 2] [--bots 50] [--http-port 7070] [--gateway-port 8080]
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { EtcdStore } from '../core/store/index.ts'
import { scopedKeys } from '../core/store/keys.ts'
import { exportPrivateKeyPem, exportPublicKeyPem, generateTicketKeys } from '../core/tickets.ts'
import { stopChild } from './lib/child.ts'
import { startEtcd } from './lib/etcd.ts'

const bin = join(import.meta.dirname, '..', 'bin', 'tessera.js')
const children: ChildProcess[] = []

/** Start `tessera <args>` and resolve with its ready line. */
function tessera(name: string, args: string[]): Promise<Record<string, string>> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)))
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.startsWith('{"ready"')) resolve(JSON.parse(line) as Record<string, string>)
    })
  })
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      bots: { type: 'string', default: '50' },
      'http-port': { type: 'string', default: '7070' },
      'gateway-port': { type: 'string', default: '8080' },
      'log-level': { type: 'string', default: 'warn' },
    },
  })
  const workers = Number(values.workers)
  const bots = Number(values.bots)
  const log = ['--log-level', values['log-level']]
  const etcd = await startEtcd()
  const endpoint = ['--etcd-endpoints', etcd.endpoint]
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'))
  const keys = await generateTicketKeys()
  writeFileSync(join(dir, 'ticket.pem'), await exportPrivateKeyPem(keys.privateKey))
  writeFileSync(join(dir, 'ticket.pub.pem'), await exportPublicKeyPem(keys.publicKey))

  const stop = async () => {
    // Bots first, then the gateway, workers, and the coordinator: the reverse of the start order.
    for (const c of children.reverse()) await stopChild(c, 'SIGTERM', 10_000)
    await etcd.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => void stop().then(() => process.exit(0)))
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)))

  try {
    const coordinator = await tessera('coordinator', ['coordinator', ...endpoint, '--id', 'c1', '--http-port', values['http-port'], '--grpc-port', '0', ...log])
    const started = []
    for (let i = 1; i <= workers; i++) {
      started.push(await tessera(`worker w${i}`, [
        'worker', ...endpoint, '--id', `w${i}`, '--port', '0', '--capacity', '60', '--npcs', '300',
        '--ticket-public-keys', `gateway=${join(dir, 'ticket.pub.pem')}`, ...log,
        // Workers sign the tickets of players handed to them, so those clients follow their entity.
        '--ticket-private-key-file', join(dir, 'ticket.pem'), '--ticket-key-id', 'gateway',
      ]))
    }
    const gateway = await tessera('gateway', ['gateway', ...endpoint, '--port', values['gateway-port'], '--ticket-private-key-file', join(dir, 'ticket.pem'), ...log])

    const store = new EtcdStore({ endpoints: [etcd.endpoint] })
    const k = scopedKeys()
    await store.put(k.world('lobby'), JSON.stringify({ id: 'lobby', kind: 'world', bounds: { minX: 0, minY: 0, maxX: 2000, maxY: 2000 }, labels: {}, createdAt: Date.now() }))
    for (let i = 0; i < 100 && !(await store.get(k.worldMap('lobby')))?.value.includes('"owner":"w'); i++) await new Promise((r) => setTimeout(r, 100))
    await store.close()
    if (bots > 0) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'bots', 'main.ts'), '--gateway', gateway['url'] ?? '', '--world', 'lobby', '--bots', String(bots)], { stdio: ['ignore', 'ignore', 'inherit'] })
      children.push(child)
    }
    process.stdout.write([
      `Tessera cluster: every service in its own process, on etcd at ${etcd.endpoint}.`,
      `  dashboard and operator API  ${coordinator['api']}/`,
      `  gateway                     ${gateway['url']}`,
      ...started.map((w) => `  worker ${w['id']}                   players at ${w['clientUrl']}, metrics at ${w['ops']}/metrics`),
      `  bots                        ${bots} in the world "lobby"`,
      'Ctrl-C stops it.',
      '',
    ].join('\n'))
    process.stdout.write(`${JSON.stringify({ ready: 'cluster', api: coordinator['api'], gateway: gateway['url'], etcd: etcd.endpoint })}\n`)
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`)
    await stop()
    process.exit(1)
  }
}

await main()
