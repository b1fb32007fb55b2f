/**
 * `npm start` runs `tessera dev`: the whole cluster in one process on the in-memory store. This runs
 * the real command and checks what a person trying Tessera would: a coordinator that leads, two
 * workers, the demo world owned and simulated, bots playing in it, a gateway handing out tickets,
 * and a clean stop.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { ClusterSummary, WorldDetail } from '../../core/api/types.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTessera } from '../helpers/tessera-process.ts'
import type { TesseraProcess } from '../helpers/tessera-process.ts'

describe('tessera dev', () => {
  let dev: TesseraProcess | undefined
  afterAll(async () => {
    await dev?.kill('SIGTERM')
  })

  it('runs a working cluster in one process and stops cleanly', { timeout: 120_000 }, async () => {
    dev = await startTessera(['dev', '--http-port', '0', '--port', '0', '--gateway-port', '0', '--bots', '5'], 40_000)
    const api = dev.info['api'] as string
    const gateway = dev.info['gateway'] as string
    const cluster = await eventually('two workers and a leader', async () => {
      const c = (await (await fetch(`${api}/api/v1/cluster`)).json()) as ClusterSummary
      return c.self.leading && c.workers.length === 2 ? c : undefined
    }, 20_000)
    expect(cluster.workers.map((w) => w.id)).toEqual(['dev-w1', 'dev-w2'])

    // The planner may still be splitting the world: wait until its walkers are reported simulated.
    await eventually('the demo world is simulated', async () => {
      const w = (await (await fetch(`${api}/api/v1/worlds/lobby`)).json()) as WorldDetail
      return w.partitions.every((p) => p.owner) && w.partitions.reduce((s, p) => s + (p.load?.entities ?? 0), 0) > 300
    }, 30_000)

    await eventually('the bots play', async () => ((await (await fetch(`${api}/api/v1/cluster`)).json()) as ClusterSummary).totals.clients >= 5, 30_000)

    const join = await fetch(`${gateway}/v1/worlds/lobby/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(join.status).toBe(200)
    const grant = (await join.json()) as { workerUrl: string; ticket: string }
    expect(grant.workerUrl).toBe(dev.info['clientUrl'])
    expect(grant.ticket.split('.')).toHaveLength(3)

    expect(await dev.kill('SIGTERM')).toBe(0)
  })
})
