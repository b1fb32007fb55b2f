/**
 * A throwaway single-member etcd for one test suite or one local cluster (`npm run cluster`): its
 * own temp data dir and free ports, killed with its process if that forgets to stop it.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { accessSync, constants as fsConstants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

export interface EtcdMember {
  /** Client URL, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string
  readonly dataDir: string
  /** Whether the etcd process is running. */
  readonly running: boolean
  /** Terminate etcd and delete its data dir. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL etcd (a crash); the data dir stays for `restart()`. */
  kill(): Promise<void>
  /** Start etcd again on the same ports and data dir, and wait until it is healthy. */
  restart(): Promise<void>
}

export interface StartEtcdOptions {
  /** How long to wait for the member to become healthy, in ms. Default 15 000. */
  readyTimeoutMs?: number
}

/** Find the etcd binary on PATH, or explain how to install it. */
export function findEtcd(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, 'etcd')
    try {
      accessSync(candidate, fsConstants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  throw new Error('etcd is not on PATH: install the Debian package etcd-server (apt-get install -y etcd-server)')
}

/**
 * Start a single etcd member on free local ports and wait until it answers. A port can be taken
 * between our probe and etcd's bind (another suite starting at the same moment): then it tries
 * again on new ports.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdMember> {
  const binary = findEtcd()
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(binary, options.readyTimeoutMs ?? 15_000)
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('address already in use')) throw err
    }
  }
}

async function startOnFreePorts(binary: string, readyTimeoutMs: number): Promise<EtcdMember> {
  const [clientPort, peerPort] = await freePorts(2)
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-etcd-'))
  const endpoint = `http://127.0.0.1:${clientPort}`
  const peerUrl = `http://127.0.0.1:${peerPort}`
  const args = [
    '--name=member0',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=member0=${peerUrl}`,
    '--initial-cluster-state=new',
    '--logger=zap',
    '--log-outputs=stderr',
    '--log-level=error',
  ]

  let child: ChildProcess | undefined
  let guard: ChildProcess | undefined
  let stderrTail: string[] = []
  let stopped = false
  const killOnExit = (): void => {
    child?.kill('SIGKILL')
    guard?.kill('SIGKILL')
  }
  process.on('exit', killOnExit)

  const launch = async (): Promise<void> => {
    stderrTail = []
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    guard = guardAgainstOrphan(proc)
    proc.stderr?.setEncoding('utf8')
    proc.stderr?.on('data', (chunk: string) => {
      stderrTail.push(...chunk.split('\n').filter(Boolean))
      if (stderrTail.length > 40) stderrTail = stderrTail.slice(-40)
    })
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code, signal) => reject(new Error(`etcd exited (code ${code}, signal ${signal}) before it was healthy:\n${stderrTail.join('\n')}`)))
    })
    exited.catch(() => undefined)
    await Promise.race([waitHealthy(endpoint, readyTimeoutMs), exited])
  }

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child
    child = undefined
    guard?.kill('SIGKILL')
    guard = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill(signal)
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }

  await launch().catch(async (err: unknown) => {
    await terminate('SIGKILL')
    process.off('exit', killOnExit)
    await rm(dataDir, { recursive: true, force: true })
    throw err
  })

  return {
    endpoint,
    dataDir,
    get running() {
      return child !== undefined
    },
    async stop() {
      if (stopped) return
      stopped = true
      await terminate('SIGTERM')
      process.off('exit', killOnExit)
      await rm(dataDir, { recursive: true, force: true })
    },
    async kill() {
      await terminate('SIGKILL')
    },
    async restart() {
      if (stopped) throw new Error('etcd member was stopped; start a new one')
      await terminate('SIGTERM')
      await launch()
    },
  }
}

/**
 * 'exit' handlers do not run when the test process is killed by a signal; this tiny watcher
 * SIGKILLs etcd within a second of the test process disappearing.
 */
function guardAgainstOrphan(proc: ChildProcess): ChildProcess | undefined {
  if (proc.pid === undefined) return undefined
  const script = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -9 "$1" 2>/dev/null'
  const guard = spawn('sh', ['-c', script, String(process.pid), String(proc.pid)], { stdio: 'ignore', detached: true })
  guard.unref()
  return guard
}

/** Ports the OS reports free right now (bind port 0, read it, release it). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer()
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => resolve(server))
      })
    }),
  )
  const ports = servers.map((server) => {
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('unexpected server address')
    return address.port
  })
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
  return ports
}

/** Poll etcd's `/health` until it reports healthy. */
async function waitHealthy(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) })
      const body = (await res.json()) as { health?: unknown }
      if (res.ok && body.health === 'true') return
      lastError = new Error(`health: ${JSON.stringify(body)}`)
    } catch (err) {
      lastError = err
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`etcd at ${endpoint} not healthy after ${timeoutMs} ms: ${String(lastError)}`)
}
