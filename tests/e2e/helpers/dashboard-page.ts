/**
 * The dashboard browser test's helpers: what the page draws (read from the SVG's data attributes),
 * the same for an API answer, the confirmation dialog, and a static server of the built page with
 * an API of the test's own.
 */
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join } from 'node:path'
import type { Page } from 'playwright-core'
import type { WorldDetail } from '../../../core/api/types.ts'

export const dashboardDist = join(import.meta.dirname, '..', '..', '..', 'web-dashboard', 'dist')

export interface Drawn {
  version: number
  partitions: { id: string; owner: string; epoch: number; pinned: boolean }[]
}

/** The partitions the page draws, from the SVG's data attributes, sorted by id. */
export async function drawnPartitions(page: Page): Promise<Drawn> {
  return page.evaluate(() => {
    const view = document.querySelector<HTMLElement>('#world-view')
    const rects = [...document.querySelectorAll<SVGRectElement>('#world-view [data-partition]')]
    return {
      version: Number(view?.dataset['mapVersion'] ?? -1),
      partitions: rects
        .map((r) => ({ id: r.dataset['partition'] ?? '', owner: r.dataset['owner'] ?? '', epoch: Number(r.dataset['epoch']), pinned: r.dataset['pinned'] === 'true' }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    }
  })
}

/** What the page should draw for `detail`, in `drawnPartitions`' shape. */
export function expectedPartitions(detail: WorldDetail): Drawn {
  return {
    version: detail.spec.mapVersion,
    partitions: detail.partitions
      .map((p) => ({ id: p.partitionId, owner: p.owner ?? '', epoch: p.epoch, pinned: p.pinned }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
  }
}

/** Presses Confirm in the page's dialog and waits for it to close. */
export async function confirmDialog(page: Page): Promise<void> {
  await page.getByTestId('confirm').waitFor({ state: 'visible' })
  await page.getByTestId('confirm-ok').click()
  await page.getByTestId('confirm').waitFor({ state: 'hidden' })
}

const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' }

/**
 * Serves the built dashboard on 127.0.0.1 and hands `/api/...` requests to `api`. Tests that need to
 * see what the browser really sends (headers that request interception does not show) use this.
 */
export async function serveDashboard(
  api: (req: IncomingMessage, res: ServerResponse, url: URL) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname.startsWith('/api/')) return api(req, res, url)
    const file = join(dashboardDist, url.pathname === '/' ? 'index.html' : url.pathname.slice(1))
    if (!existsSync(file)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: url.pathname } }))
      return
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      // Event streams stay open: end them, or close() waits for them.
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
