import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { ActionResult, ClusterEvent, WorkerView, WorldDetail, WorldSummary } from '../../core/api/types.ts'
import { buildOperatorApi } from '../../coordinator/api/server.ts'
import { createMetricsRegistry } from '../../core/http/ops.ts'
import { silentLogger } from '../../core/log.ts'
import { runCtl } from '../../scripts/cli/ctl.ts'
import { MemoryOperatorBackend } from '../helpers/memory-operator-backend.ts'

const bin = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js')
const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

async function coordinator() {
  const backend = new MemoryOperatorBackend().addWorker('w-1').addWorker('w-2', 200).addWorld('w1', 'w-1', 20, 400).addWorld('lobby', 'w-2', 4, 10, 'room')
  const app = buildOperatorApi(backend, { logger: silentLogger(), registry: createMetricsRegistry(), ready: () => ({ ok: true }) })
  apps.push(app)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { backend, app, url }
}

/** Runs `tessera ctl` in this process; captures its output. */
async function ctl(argv: string[], env: Record<string, string> = {}, signal?: AbortSignal) {
  const stdout = { text: '', write: (s: string) => (stdout.text += s) }
  const stderr = { text: '', write: (s: string) => (stderr.text += s) }
  const code = await runCtl(argv, { stdout, stderr, env, ...(signal ? { signal } : {}) })
  return { code, stdout: stdout.text, stderr: stderr.text }
}

const lines = (text: string) => text.trimEnd().split('\n')

describe('tessera ctl reads', () => {
  it('workers: an aligned table with a cluster line, or JSON', async () => {
    const { backend, url } = await coordinator()
    const table = await ctl(['workers', '--url', url])
    expect(table.code).toBe(0)
    const [header, first, second] = lines(table.stdout)
    expect(header).toMatch(/^WORKER\s+STATE\s+LOAD\s+CAPACITY\s+USE\s+PARTITIONS/)
    expect(first).toMatch(/^w-1\s+active\s+20\.0\s+100\.0\s+20%\s+1\s/)
    expect(second).toMatch(/^w-2\s+active\s+4\.0\s+200\.0\s+2%/)
    // Right-aligned numbers end under their header's end.
    expect((first ?? '').indexOf('100.0') + 5).toBe((header ?? '').indexOf('CAPACITY') + 8)
    expect(table.stdout).toContain('2 workers (0 draining) · load 24.0 / 300.0 ms/s (8%)')
    expect(table.stdout).toContain('rebalancing on')

    const json = await ctl(['--json', 'workers', '--url', url])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout) as WorkerView[]).toEqual(backend.cluster().workers)
  })

  it('worlds and world ID: tables or JSON; an unknown world exits 1 with the API message', async () => {
    const { backend, url } = await coordinator()
    const worlds = await ctl(['worlds', '--url', url])
    expect(lines(worlds.stdout)[0]).toMatch(/^WORLD\s+KIND\s+PARTITIONS/)
    expect(worlds.stdout).toMatch(/\nlobby\s+room\s+1\s+10\s/)
    expect((JSON.parse((await ctl(['worlds', '--json', '--url', url])).stdout) as WorldSummary[]).map((w) => w.id)).toEqual(['w1', 'lobby'])

    await backend.splitPartition('w1', 'p0')
    const world = await ctl(['world', 'w1', '--url', url])
    expect(world.code).toBe(0)
    expect(world.stdout).toContain('world w1 · bounds 0,0 → 1000,1000 · map version 2')
    expect(world.stdout).toMatch(/\nw1:p0a\s+w-1\s+2\s+-\s+10\.0\s+200\s+0\s+p0b\s+0,0 → 500,1000\n/)
    expect(JSON.parse((await ctl(['world', 'w1', '--json', '--url', url])).stdout) as WorldDetail).toEqual(backend.world('w1'))

    const missing = await ctl(['world', 'atlantis', '--url', url])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toBe('tessera ctl world: no world "atlantis" (not_found, HTTP 404)\n')
  })

  it('reads the coordinator URL from TESSERA_COORDINATOR_URL, and --url wins over it', async () => {
    const { url } = await coordinator()
    expect((await ctl(['workers'], { TESSERA_COORDINATOR_URL: url })).code).toBe(0)
    const wrong = await ctl(['workers', '--url', url], { TESSERA_COORDINATOR_URL: 'http://127.0.0.1:9' })
    expect(wrong.code).toBe(0)
  })
})

describe('tessera ctl actions', () => {
  it('drain, split, merge, pin, unpin, pause and resume change the cluster', async () => {
    const { backend, url } = await coordinator()
    const run = async (...argv: string[]) => {
      const r = await ctl([...argv, '--url', url])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      return r.stdout
    }
    expect(await run('split', 'w1:p0')).toBe('split p0 of w1 into p0a and p0b\n')
    expect(await run('pin', 'w1:p0a')).toBe('pinned p0a of w1 on w-1\n')
    expect(backend.world('w1')?.partitions[0]?.pinned).toBe(true)
    expect(await run('unpin', 'w1:p0a')).toBe('unpinned p0a of w1 on w-1\n')
    expect(await run('merge', 'w1:p0b')).toBe('merged p0b and p0a into p0\n')
    expect(JSON.parse(await run('drain', 'w-1', '--json')) as ActionResult).toEqual({ ok: true, message: 'worker w-1 draining; 1 partitions moved' })
    expect(backend.cluster().workers[0]).toMatchObject({ id: 'w-1', draining: true })
    expect(await run('pause')).toBe('rebalancing paused\n')
    expect(backend.paused).toBe(true)
    expect(JSON.parse(await run('resume', '--json')) as ActionResult).toEqual({ ok: true, message: 'rebalancing resumed' })
    expect(backend.paused).toBe(false)
  })

  it('refuses on a standby with the leader to ask instead', async () => {
    const { backend, url } = await coordinator()
    backend.leading = false
    const r = await ctl(['pause', '--url', url])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('(not_leader, HTTP 503)')
    expect(r.stderr).toContain('the leader is c1: try --url http://127.0.0.1:7070')
    expect(backend.paused).toBe(false)
  })

  it('reports refused actions (404, 409) with exit 1', async () => {
    const { url } = await coordinator()
    expect(await ctl(['drain', 'w-9', '--url', url])).toMatchObject({ code: 1, stderr: 'tessera ctl drain: no worker "w-9" (not_found, HTTP 404)\n' })
    await ctl(['drain', 'w-1', '--url', url])
    const conflict = await ctl(['drain', 'w-2', '--url', url])
    expect(conflict.code).toBe(1)
    expect(conflict.stderr).toContain('(conflict, HTTP 409)')
  })
})

describe('tessera ctl events', () => {
  it('prints held events, then live ones, and stops after --limit', async () => {
    const { backend, url } = await coordinator()
    const held = await ctl(['events', '--limit', '3', '--url', url])
    expect(held.code).toBe(0)
    const printed = lines(held.stdout)
    expect(printed).toHaveLength(3)
    expect(printed[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}#1 {2}membership {2}worker w-1 joined$/)

    const live = ctl(['events', '--after', '4', '--limit', '1', '--json', '--url', url])
    await backend.events.whenListenerCount(1)
    await backend.pauseRebalancing()
    const result = await live
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout) as ClusterEvent).toMatchObject({ seq: 5, type: 'operator', message: 'rebalancing paused' })
    await backend.events.whenListenerCount(0)
  })

  it('follows until stopped, then exits 0 and lets go of the stream', async () => {
    const { backend, url } = await coordinator()
    const stop = new AbortController()
    const following = ctl(['events', '--after', '4', '--url', url], {}, stop.signal)
    await backend.events.whenListenerCount(1)
    stop.abort()
    expect(await following).toMatchObject({ code: 0, stdout: '' })
    await backend.events.whenListenerCount(0)
  })

  it('exits 1 when the coordinator ends the stream', async () => {
    const { app, backend, url } = await coordinator()
    const following = ctl(['events', '--after', '4', '--url', url])
    await backend.events.whenListenerCount(1)
    await app.close()
    const result = await following
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/ended the event stream|event stream broke/)
  })
})

describe('tessera ctl errors and usage', () => {
  it('says the coordinator cannot be reached when the connection is refused', async () => {
    const { app, url } = await coordinator()
    await app.close()
    for (const argv of [['workers'], ['pause'], ['events', '--limit', '1']]) {
      const r = await ctl([...argv, '--url', url])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`cannot reach the coordinator at ${url}: connection refused`)
    }
  })

  it('exits 2 with usage for unknown commands, missing or bad ids and bad options', async () => {
    expect((await ctl([])).code).toBe(2)
    const unknown = await ctl(['teleport'])
    expect(unknown).toMatchObject({ code: 2 })
    expect(unknown.stderr).toContain('unknown command "teleport"')
    expect((await ctl(['world'])).stderr).toBe('usage: tessera ctl world ID [options]\n')
    expect((await ctl(['pause', 'now'])).code).toBe(2)
    const badId = await ctl(['split', 'p0', '--url', 'http://127.0.0.1:9'])
    expect(badId).toMatchObject({ code: 2, stderr: 'tessera ctl split: partition id "p0" must be {worldId}:{partitionId}, e.g. w1:p3\n' })
    const badUrl = await ctl(['workers', '--url', 'ftp://x'])
    expect(badUrl.code).toBe(2)
    expect(badUrl.stderr).toContain('url: must be an http:// or https:// URL (from flag --url)')
    expect((await ctl(['workers', '--frobnicate'])).stderr).toContain('frobnicate: unknown option')
    const help = await ctl(['--help'])
    expect(help.code).toBe(0)
    for (const name of ['workers', 'worlds', 'world ID', 'drain', 'split', 'merge', 'pin', 'unpin', 'pause', 'resume', 'events']) {
      expect(help.stdout).toContain(`  ${name}`)
    }
  })

  it('runs as a real process: tessera ctl workers --url ...', async () => {
    const { url } = await coordinator()
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'ctl', 'workers', '--url', url], { timeout: 20_000 })
    expect(stdout).toMatch(/^WORKER\s+STATE/)
    expect(stdout).toContain('w-2')
    const failed = await promisify(execFile)(process.execPath, [bin, 'ctl', 'world', 'nowhere', '--url', url]).catch((err: { code: number; stderr: string }) => err)
    expect(failed).toMatchObject({ code: 1, stderr: 'tessera ctl world: no world "nowhere" (not_found, HTTP 404)\n' })
  })
})
