/**
 * The player library in a real browser: bundled with Vite, loaded in headless Chromium, it joins a
 * real worker over WebRTC (and over the WebSocket fallback), moves its player and receives snapshots.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Rect } from '../../core/geometry.ts'
import { silentLogger } from '../../core/log.ts'
import { createMap, encodeMap } from '../../core/partition-map.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { generateTicketKeys, issueTicket } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'
import { eventually } from '../helpers/eventually.ts'
import { bundleForBrowser, launchChromium } from '../helpers/browser.ts'

const BOUNDS: Rect = { minX: 0, minY: 0, maxX: 200, maxY: 200 }

const store = new MemoryStore()
const keys = scopedKeys('/e2e/')
let transport: ClientTransport<TicketClaims>
let worker: Worker
let privateKey: CryptoKey
const joins: string[] = []

beforeAll(async () => {
  const pair = await generateTicketKeys()
  privateKey = pair.privateKey
  transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => new Map([['k1', pair.publicKey]]), (id) => id === 'w1'),
  })
  worker = new Worker({
    store, keys, transport, logger: silentLogger(), game: () => createDemoGame({}),
    options: workerOptions({ id: 'w1', port: 0, grpcPort: 0, opsPort: 0, npcs: 5, interestRadius: 400, logLevel: 'silent' }),
    onPlayer: (event, claims) => {
      if (event === 'joined') joins.push(claims.playerId)
    },
  })
  await worker.start()
  await store.put(keys.world('r1'), JSON.stringify({ id: 'r1', kind: 'room', bounds: BOUNDS, maxPlayers: 8, labels: {}, createdAt: Date.now() }))
  await store.put(keys.worldMap('r1'), encodeMap({ ...createMap('r1', BOUNDS, 'w1'), root: { kind: 'leaf', id: 'p0', owner: 'w1', epoch: 1 } }))
  await eventually('r1 simulated', () => worker.partitions().includes('r1:p0'))
})

afterAll(async () => {
  await worker?.stop()
  await transport?.close()
  await store.close()
})

describe('the player library in a browser', () => {
  it('joins a worker from headless Chromium over WebRTC, moves, and receives snapshots', async () => {
    await joinFromChromium('webrtc', false, 'browser-webrtc')
  })

  it('does the same over the WebSocket fallback in a page without WebRTC', async () => {
    await joinFromChromium('websocket', true, 'browser-websocket')
  })

  it('falls back to WebSocket by itself (`auto`) when WebRTC is missing', async () => {
    await joinFromChromium('auto', true, 'browser-auto')
  })
})

async function joinFromChromium(transport: 'webrtc' | 'websocket' | 'auto', withoutWebRTC: boolean, playerId: string): Promise<void> {
  const web = http.createServer()
  const browser = await launchChromium()
  try {
    const bundle = await bundleForBrowser(fileURLToPath(new URL('./helpers/browser-client-entry.ts', import.meta.url)), 'tesseraBrowserClientBundle')
    // Node-only modules must not leak into the browser bundle.
    expect(bundle).not.toMatch(/node-datachannel|from ["']node:/)
    // Served from 127.0.0.1 too: Chromium blocks a page from an opaque origin reaching loopback.
    web.on('request', (req, res) => {
      res.setHeader('content-type', req.url === '/bundle.js' ? 'text/javascript' : 'text/html')
      res.end(req.url === '/bundle.js' ? bundle : '<script src="/bundle.js"></script>')
    })
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', () => resolve()))
    const page = await browser.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', (err) => pageErrors.push(err.message))
    await page.goto(`http://127.0.0.1:${(web.address() as AddressInfo).port}/`)
    const ticket = await issueTicket(privateKey, { playerId, worldId: 'r1', workerId: 'w1', kid: 'k1' })
    const result = await page.evaluate(
      ([url, t, kind, noRtc, middle]) =>
        (globalThis as unknown as Record<string, (u: string, t: string, k: string, n: boolean, m: number) => Promise<unknown>>)['tesseraBrowserClient']?.(url, t, kind, noRtc, middle),
      [worker.addresses.clientUrl, ticket, transport, withoutWebRTC, (BOUNDS.minX + BOUNDS.maxX) / 2] as const,
    )
    expect(result).toMatchObject({ states: ['connecting', 'connected', 'closed'] })
    const r = result as { self: number; snapshots: number; inputsSent: number; inputsAcked: number; entities: number; moved: number }
    expect(r.snapshots).toBeGreaterThanOrEqual(30)
    expect(r.entities).toBe(6) // itself and the 5 walkers: the radius covers the room
    expect(r.moved).toBeGreaterThan(1)
    expect(r.inputsAcked).toBeGreaterThan(0)
    expect(joins).toContain(playerId)
    expect(pageErrors).toEqual([])
  } finally {
    await browser.close()
    web.close()
  }
}

