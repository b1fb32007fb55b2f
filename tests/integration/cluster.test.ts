/**
 * `npm run cluster`: every service as its own process on a throwaway etcd, with bots. The cluster
 * comes up, the world is owned and played, and Ctrl-C (SIGINT) stops every process it started.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import type { ClusterSummary } from '../../core/api/types.ts'
import { eventually } from '../helpers/eventually.ts'

describe('npm run cluster', () => {
  it('runs coordinator, workers, gateway and bots as processes on etcd and stops them all', { timeout: 120_000 }, async () => {
    const script = join(import.meta.dirname, '..', '..', 'scripts', 'cluster.ts')
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--http-port', '0', '--gateway-port', '0', '--bots', '4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const ready = await new Promise<Record<string, string>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('cluster not ready in 60 s')), 60_000)
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (!line.startsWith('{"ready"')) return
          clearTimeout(timer)
          resolve(JSON.parse(line) as Record<string, string>)
        })
      })
      const api = ready['api'] as string
      const summary = await eventually('the bots play on two workers', async () => {
        const c = (await (await fetch(`${api}/api/v1/cluster`)).json()) as ClusterSummary
        return c.workers.length === 2 && c.totals.clients >= 4 ? c : undefined
      }, 40_000)
      expect(summary.worlds.map((w) => w.id)).toEqual(['lobby'])
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    // Everything it started is gone: the coordinator's port no longer answers.
  })
})
