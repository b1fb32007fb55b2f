/**
 * The web dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real
 * `tessera dev` process: the page loads without console errors, draws the partition map the API
 * reports, and its operator controls (pause, pin, split, merge, drain, resume), clicked in the page
 * and confirmed in its dialog, change the cluster and then the page. The event list resumes a
 * dropped stream (`Last-Event-ID`) and a refused one (`?after=`) without losing or repeating
 * events, checked against a server of the test's own. Another page is fed a synthetic cluster of 1,000 partitions and 50 workers to measure the world view's render time
 * (recorded in test-artifacts/dashboard-bench.json, not asserted: timing depends on the machine).
 * Screenshots of the world view land in test-artifacts/dashboard/ for a person to look at.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterSummary, PartitionView, WorldDetail } from '../../core/api/types.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTessera } from '../helpers/tessera-process.ts'
import type { TesseraProcess } from '../helpers/tessera-process.ts'
import { confirmDialog, drawnPartitions, expectedPartitions, serveDashboard } from './helpers/dashboard-page.ts'
import type { Drawn } from './helpers/dashboard-page.ts'
import { SyntheticWorld, syntheticRooms } from './helpers/synthetic-world.ts'
import { launchChromium } from '../helpers/browser.ts'

const repo = join(import.meta.dirname, '..', '..')
const artifacts = join(repo, 'test-artifacts', 'dashboard')

let tessera: TesseraProcess
let browser: Browser
let page: Page
let api: string
const consoleErrors: string[] = []

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${api}/api/v1${path}`)
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`)
  return (await res.json()) as T
}

/** Waits until the page draws what `GET /api/v1/worlds/lobby` says (both may move meanwhile). */
async function pageMatchesApi(what: string, accept: (d: WorldDetail) => boolean = () => true, timeoutMs = 15_000): Promise<WorldDetail> {
  let last: { page: Drawn; api: Drawn } | undefined
  try {
    return await eventually(
      what,
      async () => {
        const detail = await get<WorldDetail>('/worlds/lobby')
        const shown = await drawnPartitions(page)
        last = { page: shown, api: expectedPartitions(detail) }
        return accept(detail) && JSON.stringify(shown) === JSON.stringify(expectedPartitions(detail)) ? detail : undefined
      },
      timeoutMs,
      100,
    )
  } catch (err) {
    // The last mismatch says more than a timeout.
    expect(last?.page).toEqual(last?.api)
    throw err
  }
}

async function selectPartition(id: string): Promise<void> {
  await page.locator(`#world-view [data-partition="${id}"]`).click()
  await page.locator(`#partition-panel [data-selected="${id}"]`).waitFor()
}

async function shoot(name: string): Promise<void> {
  // Borders may still be sliding: a screenshot shows the settled map.
  await page.locator('#world-view:not([data-animating])').waitFor()
  await page.locator('#world-view').screenshot({ path: join(artifacts, `${name}.png`) })
}

function area(p: PartitionView): number {
  return (p.rect.maxX - p.rect.minX) * (p.rect.maxY - p.rect.minY)
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  // Built every run (about a second): a stale bundle would test yesterday's dashboard.
  await build({ configFile: join(repo, 'web-dashboard', 'vite.config.ts'), logLevel: 'warn' })
  // A few bots keep players on the page; the default hundred would only load the machine.
  tessera = await startTessera(['dev', '--http-port', '0', '--port', '0', '--gateway-port', '0', '--bots', '5', '--log-level', 'warn'])
  api = tessera.info['api'] ?? ''
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text())
  })
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`))
})

afterAll(async () => {
  await browser?.close()
  await tessera?.kill()
})

describe('web dashboard against tessera dev', () => {
  it('loads with no console errors and shows the cluster header', async () => {
    const res = await page.goto(`${api}/`)
    expect(res?.status()).toBe(200)
    await page.locator('#world-view [data-partition]').first().waitFor()
    await expect.poll(() => page.locator('[data-stat="workers"]').textContent()).toBe('2')
    await expect.poll(() => page.locator('[data-stat="leader"]').textContent()).toBe('dev-coordinator')
    await expect.poll(() => page.locator('#workers tr[data-worker]').count()).toBe(2)
    await page.locator('#events li[data-type="membership"]').first().waitFor()
    await expect.poll(() => page.getByTestId('events-status').textContent()).toBe('live')
    expect(consoleErrors).toEqual([])
  })

  it('pauses rebalancing from the page after confirmation', async () => {
    await page.locator('[data-action="pause"]').click()
    await confirmDialog(page)
    await eventually('the API to report rebalancing paused', async () => (await get<ClusterSummary>('/cluster')).paused)
    await page.locator('[data-testid="rebalancing"][data-paused="true"]').waitFor()
    await page.locator('[data-testid="toasts"] .toast.ok', { hasText: 'rebalancing paused' }).waitFor()

    // How far the planner has cut the demo world by now depends on how busy the machine is (it
    // may even have merged it back into one partition): the rest of the suite needs a few
    // partitions, so it cuts the largest through the API until there are four, now that the
    // planner will not merge them back.
    for (;;) {
      const detail = await get<WorldDetail>('/worlds/lobby')
      if (detail.partitions.length >= 4) break
      const largest = [...detail.partitions].sort((a, b) => area(b) - area(a))[0]
      const res = await fetch(`${api}/api/v1/partitions/${encodeURIComponent(largest?.id ?? '')}/split`, { method: 'POST' })
      expect(res.status).toBe(200)
    }
  })

  it('draws the partitions GET /api/v1/worlds/lobby reports: ids, owners, epochs', { timeout: 45_000 }, async () => {
    const detail = await pageMatchesApi('the page to draw the API map', (d) => d.partitions.length >= 4)
    // Drawn to scale: the map's viewBox is the world's bounds.
    const b = detail.spec.bounds
    expect(await page.locator('#world-view svg.map').getAttribute('viewBox')).toBe(`${b.minX} ${b.minY} ${b.maxX - b.minX} ${b.maxY - b.minY}`)
    // The density heatmap and its dots are drawn (the canvas under the partitions is not blank)
    // once partitions have load reports: a partition just split or moved has none until its new
    // owner reports it at its new epoch.
    const painted = (): Promise<number> =>
      page.locator('#world-view canvas.heat').evaluate((c) => {
        const canvas = c as HTMLCanvasElement
        const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? []
        let n = 0
        for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++
        return n / (canvas.width * canvas.height)
      })
    await expect.poll(painted, { timeout: 15_000 }).toBeGreaterThan(0.02)
    // Hovering a partition shows its details.
    const first = detail.partitions[0]
    await page.locator(`#world-view [data-partition="${first?.partitionId}"]`).hover()
    await expect.poll(() => page.getByTestId('tooltip').textContent()).toContain(`${first?.partitionId}`)
    await shoot('world-initial')
  })

  it('pins and unpins a partition clicked on the map, and shows a refused merge as an error', async () => {
    const detail = await pageMatchesApi('a settled map')
    const target = detail.partitions.find((p) => p.mergeableWith !== null)
    if (!target) throw new Error('no mergeable partition')
    const id = target.partitionId
    await selectPartition(id)
    await page.locator('#partition-panel [data-action="pin"]').click()
    await confirmDialog(page)
    await pageMatchesApi(`${id} pinned`, (d) => d.partitions.some((p) => p.partitionId === id && p.pinned))
    await page.locator(`#world-view [data-partition="${id}"][data-pinned="true"]`).waitFor()

    // A pinned partition cannot merge: the API refuses with 409 and the page says why.
    const before = consoleErrors.length
    await page.locator('#partition-panel [data-action="merge"]').click()
    await confirmDialog(page)
    await page.locator('[data-testid="toasts"] .toast.error', { hasText: 'pinned' }).waitFor()
    // The browser logs the refused request itself; that one console line is expected, no other.
    const added = consoleErrors.splice(before)
    expect(added.every((e) => e.includes('409'))).toBe(true)

    await page.locator('#partition-panel [data-action="unpin"]').click()
    await confirmDialog(page)
    await pageMatchesApi(`${id} unpinned`, (d) => d.partitions.some((p) => p.partitionId === id && !p.pinned))
  })

  it('splits a partition clicked on the map, and merges it back', async () => {
    const before = await pageMatchesApi('a settled map')
    const target = [...before.partitions].sort((a, b) => area(b) - area(a))[0]
    if (!target) throw new Error('no partition')
    const id = target.partitionId

    // Cancelling the dialog does nothing.
    await selectPartition(id)
    await page.locator('#partition-panel [data-action="split"]').click()
    await page.getByTestId('confirm-cancel').click()
    expect((await get<WorldDetail>('/worlds/lobby')).spec.mapVersion).toBe(before.spec.mapVersion)

    await page.locator('#partition-panel [data-action="split"]').click()
    await confirmDialog(page)
    const split = await pageMatchesApi(`${id} split`, (d) => !d.partitions.some((p) => p.partitionId === id))
    const oldIds = new Set(before.partitions.map((p) => p.partitionId))
    const children = split.partitions.filter((p) => !oldIds.has(p.partitionId))
    expect(children).toHaveLength(2)
    for (const c of children) {
      expect(c.rect.minX).toBeGreaterThanOrEqual(target.rect.minX)
      expect(c.rect.maxX).toBeLessThanOrEqual(target.rect.maxX)
      expect(c.rect.minY).toBeGreaterThanOrEqual(target.rect.minY)
      expect(c.rect.maxY).toBeLessThanOrEqual(target.rect.maxY)
    }
    expect(children.reduce((s, c) => s + area(c), 0)).toBeCloseTo(area(target), 3)
    await expect.poll(() => page.locator(`#world-view [data-partition="${id}"]`).count()).toBe(0)
    // The split line is drawn, and the operator's action is in the events list, newest first.
    await page.locator(`#world-view [data-split="${id}"]`).waitFor({ state: 'attached' })
    await page.locator('#events li[data-type="operator"]', { hasText: `operator split ${id} of lobby` }).waitFor()
    const seqs = await page.locator('#events li').evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-seq'))))
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a))
    await shoot('world-after-split')

    const child = children[0]
    if (!child) throw new Error('no child')
    await selectPartition(child.partitionId)
    // Toasts are dismissed with a click; the picture shows the page, not the test's trail.
    // (Clicked inside the page in one go: a toast may also expire by itself meanwhile.)
    await page.locator('.toast').evaluateAll((toasts) => toasts.forEach((t) => (t as HTMLElement).click()))
    await expect.poll(() => page.locator('.toast').count()).toBe(0)
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true })
    // The README's picture is refreshed on request only: a test run should not dirty the checkout.
    if (process.env['TESSERA_UPDATE_DOCS_SCREENSHOT'] === '1') copyFileSync(join(artifacts, 'dashboard.png'), join(repo, 'docs', 'dashboard.png'))
    await page.locator('#partition-panel [data-action="merge"]').click()
    await confirmDialog(page)
    const merged = await pageMatchesApi(`${id} merged back`, (d) => d.partitions.some((p) => p.partitionId === id))
    expect(merged.partitions.find((p) => p.partitionId === id)?.rect).toEqual(target.rect)
    expect(merged.partitions.some((p) => children.some((c) => c.partitionId === p.partitionId))).toBe(false)
    await page.locator(`#world-view [data-partition="${id}"]`).waitFor()
  })

  it("drains a worker clicked in the page: its partitions move away and the map follows", { timeout: 45_000 }, async () => {
    // The worker with the most partitions, so the drain has something to move.
    const owners = (await get<WorldDetail>('/worlds/lobby')).partitions.map((p) => p.owner ?? '')
    const victim = ['dev-w1', 'dev-w2'].sort((a, b) => owners.filter((o) => o === b).length - owners.filter((o) => o === a).length)[0] ?? ''
    expect(owners).toContain(victim)
    await page.locator(`#workers tr[data-worker="${victim}"] [data-action="drain"]`).click()
    await confirmDialog(page)
    await page.locator('[data-testid="toasts"] .toast.ok', { hasText: `${victim} is draining` }).waitFor()
    await eventually(
      `no partition owned by ${victim}`,
      async () => (await get<WorldDetail>('/worlds/lobby')).partitions.every((p) => p.owner !== null && p.owner !== victim),
      30_000,
      200,
    )
    await pageMatchesApi('the page to follow the drain', (d) => d.partitions.every((p) => p.owner !== victim))
    expect(await page.locator(`#world-view [data-owner="${victim}"]`).count()).toBe(0)
    await page.locator(`#workers tr[data-worker="${victim}"][data-draining="true"]`).waitFor()
    await expect.poll(() => page.locator('[data-stat="draining"]').textContent()).toBe('1')
    await shoot('world-after-drain')
  })

  it('resumes rebalancing from the page, with no console errors through the session', async () => {
    await page.locator('[data-action="resume"]').click()
    await confirmDialog(page)
    await eventually('the API to report rebalancing resumed', async () => !(await get<ClusterSummary>('/cluster')).paused)
    await page.locator('[data-testid="rebalancing"][data-paused="false"]').waitFor()
    await page.locator('#workers svg.spark[data-samples]').first().waitFor()
    await page.screenshot({ path: join(artifacts, 'dashboard-end.png'), fullPage: true })
    expect(consoleErrors).toEqual([])
  })
})

describe('web dashboard event stream', () => {
  // A server of our own here: the browser adds `Last-Event-ID` below what request interception
  // shows, so only a real server sees it. It serves the built page and a small synthetic cluster.
  it('resumes after a dropped stream with Last-Event-ID, and after a refused one with ?after=', { timeout: 30_000 }, async () => {
    const world = new SyntheticWorld('tiny', 8, 2, 1000)
    const seen: { lastEventId: string | undefined; after: string | null }[] = []
    const event = (seq: number): string =>
      `id: ${seq}\nevent: membership\ndata: ${JSON.stringify({ seq, at: Date.now(), type: 'membership', message: `event ${seq}` })}\n\n`
    const server = await serveDashboard((req, res, url) => {
      const json = (body: unknown, status = 200): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      }
      if (url.pathname === '/api/v1/events') {
        const header = req.headers['last-event-id']
        const n = seen.push({ lastEventId: typeof header === 'string' ? header : undefined, after: url.searchParams.get('after') })
        // First a stream that ends (the browser reconnects by itself, with Last-Event-ID), then a
        // refusal (the browser gives up; the page opens a new stream with ?after=), then the rest.
        if (n === 1) res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`retry: 100\n\n${event(1)}${event(2)}`)
        else if (n === 2) json({ error: { code: 'unavailable', message: 'try later' } }, 503)
        else res.writeHead(200, { 'content-type': 'text/event-stream' }).write(`retry: 60000\n\n${event(2)}${event(3)}`)
      } else if (url.pathname === '/api/v1/cluster') json(world.cluster(1, []))
      else if (url.pathname === '/api/v1/worlds/tiny') json(world.detail(1))
      else json({ error: { code: 'not_found', message: url.pathname } }, 404)
    })
    const p = await browser.newPage()
    try {
      await p.goto(server.url)
      await p.locator('#events li[data-seq="3"]').waitFor()
      expect(seen.map((r) => [r.lastEventId, r.after])).toEqual([
        [undefined, null],
        ['2', null],
        [undefined, '2'],
      ])
      // Each event once, newest first, although event 2 was offered twice.
      expect(await p.locator('#events li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-seq')))).toEqual(['3', '2', '1'])
      await expect.poll(() => p.getByTestId('events-status').textContent()).toBe('live')
    } finally {
      await p.close()
      await server.close()
    }
  })
})

describe('web dashboard with 1,000 partitions and 50 workers', () => {
  it('draws every partition, animates a border move and stays responsive', { timeout: 45_000 }, async () => {
    const world = new SyntheticWorld('mega', 1000, 50)
    const rooms = syntheticRooms(30, 50)
    let version = 1
    const details = new Map<number, string>([1, 2].map((v) => [v, JSON.stringify(world.detail(v))]))
    const big = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    const errors: string[] = []
    big.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    big.on('pageerror', (e) => errors.push(e.message))
    try {
      await big.route('**/api/v1/cluster', (r) => r.fulfill({ json: world.cluster(version, rooms.summaries) }))
      await big.route('**/api/v1/worlds/*', async (r) => {
        const id = decodeURIComponent(new URL(r.request().url()).pathname.split('/').pop() ?? '')
        const room = rooms.details.get(id)
        if (id === 'mega') await r.fulfill({ body: details.get(version) ?? '', contentType: 'application/json' })
        else if (room) await r.fulfill({ json: room })
        else await r.fulfill({ status: 404, json: { error: { code: 'not_found', message: `no world "${id}"` } } })
      })
      await big.goto(`${api}/#world=mega`)
      await big.locator('#world-view[data-partitions="1000"][data-map-version="1"]').waitFor()
      await big.locator('#world-view:not([data-animating])').waitFor()
      expect(await big.locator('#world-view [data-partition]').count()).toBe(1000)
      expect(await big.locator('#workers tr[data-worker]').count()).toBe(50)
      const firstRenderMs = Number(await big.locator('#world-view').getAttribute('data-render-ms'))

      // Move every border: measure the update, the animation's script time per frame, and the
      // real frame intervals (script, style, layout and paint) while it runs.
      await big.evaluate(() => (globalThis as unknown as { tesseraDashboard: { takeFrameTimes(): number[] } }).tesseraDashboard.takeFrameTimes())
      const intervals = big.evaluate(
        () =>
          new Promise<number[]>((resolve) => {
            const stamps: number[] = []
            const tick = (t: number): void => {
              stamps.push(t)
              const view = document.querySelector('#world-view')
              const started = view?.getAttribute('data-map-version') === '2'
              if (started && !view?.hasAttribute('data-animating')) resolve(stamps.slice(1).map((s, i) => s - (stamps[i] ?? s)))
              else requestAnimationFrame(tick)
            }
            requestAnimationFrame(tick)
          }),
      )
      version = 2
      const frameIntervals = await intervals
      const updateRenderMs = Number(await big.locator('#world-view').getAttribute('data-render-ms'))
      const frameScripts = await big.evaluate(() => (globalThis as unknown as { tesseraDashboard: { takeFrameTimes(): number[] } }).tesseraDashboard.takeFrameTimes())
      expect(frameScripts.length).toBeGreaterThan(0)
      const moved = await drawnPartitions(big)
      expect(moved.version).toBe(2)
      expect(moved.partitions).toHaveLength(1000)

      // Responsive: a click on a partition answers in the page.
      const [one, two] = [moved.partitions[500]?.id ?? '', moved.partitions[700]?.id ?? '']
      const clickStarted = performance.now()
      await big.locator(`#world-view [data-partition="${one}"]`).click()
      await big.locator(`#partition-panel [data-selected="${one}"]`).waitFor()
      const clickRoundTripMs = performance.now() - clickStarted
      const clickHandlerMs = await big.evaluate((id) => {
        const el = document.querySelector(`#world-view [data-partition="${id}"]`)
        const t = performance.now()
        el?.dispatchEvent(new MouseEvent('click', { bubbles: true }))
        return performance.now() - t
      }, two)
      await big.locator(`#partition-panel [data-selected="${two}"]`).waitFor()

      // The rooms list with its filter, on the same synthetic cluster.
      await expect.poll(() => big.locator('#rooms tr[data-room]').count()).toBe(30)
      await big.locator('#rooms tr[data-room="room-029"][data-state="unplaced"]').waitFor()
      await big.getByTestId('rooms-filter').fill('w07')
      await expect.poll(() => big.locator('#rooms tr[data-room]').count()).toBe(1)
      await big.locator('#rooms tr[data-room="room-006"]').waitFor()
      // Every fifth room holds its 4 players; the last one, unplaced, does not count as full.
      await big.getByTestId('rooms-filter').fill('full')
      await expect.poll(() => big.locator('#rooms tr[data-room]').count()).toBe(5)

      await big.locator('#world-view').screenshot({ path: join(artifacts, 'world-1000.png') })
      await big.screenshot({ path: join(artifacts, 'dashboard-1000.png'), fullPage: true })
      const stats = (xs: number[]): { count: number; median: number; p95: number; max: number } => {
        const s = [...xs].sort((a, b) => a - b)
        const at = (q: number): number => Number((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0).toFixed(2))
        return { count: s.length, median: at(0.5), p95: at(0.95), max: Number((s[s.length - 1] ?? 0).toFixed(2)) }
      }
      const bench = {
        at: new Date().toISOString(),
        partitions: 1000,
        workers: 50,
        summaryRects: 16_000,
        firstRenderMs,
        updateRenderMs,
        animationFrameScriptMs: stats(frameScripts),
        animationFrameIntervalMs: stats(frameIntervals),
        clickHandlerMs: Number(clickHandlerMs.toFixed(2)),
        clickRoundTripMs: Number(clickRoundTripMs.toFixed(1)),
      }
      writeFileSync(join(artifacts, '..', 'dashboard-bench.json'), `${JSON.stringify(bench, null, 2)}\n`)
      expect(errors).toEqual([])
    } finally {
      await big.close()
    }
  })
})
