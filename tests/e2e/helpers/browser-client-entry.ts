/**
 * Bundled by the browser e2e test: exposes `tesseraBrowserClient`, which joins a worker with the
 * player library's public entry (plain browser WebRTC or WebSocket, no polyfill), walks towards
 * the room's middle for a moment, and reports what it received (`moved`: how far).
 */
import { TesseraClient } from '../../../client/index.ts'
import type { TransportKind } from '../../../client/index.ts'

interface BrowserResult {
  self: number | undefined
  snapshots: number
  inputsSent: number
  inputsAcked: number
  entities: number
  moved: number
  states: string[]
}

/**
 * `withoutWebRTC` removes the page's RTCPeerConnection first, as in a browser with WebRTC disabled:
 * a join that succeeds then cannot have used it.
 */
async function run(url: string, ticket: string, transport: TransportKind = 'webrtc', withoutWebRTC = false, middleX = 0): Promise<BrowserResult> {
  if (withoutWebRTC) Reflect.deleteProperty(globalThis, 'RTCPeerConnection')
  const client = new TesseraClient({ transport })
  const states: string[] = []
  client.on('stateChange', ({ state }) => states.push(state))
  await client.joinWithTicket({ url, ticket })
  // Towards the middle of the room (the player spawns anywhere in it; walking into a wall, it would not move).
  let moveX = 0
  const stop = client.on('tick', () => client.sendInput({ moveX, moveY: 0 }))
  const startX = await new Promise<number>((resolve) => {
    const off = client.on('snapshot', () => {
      const p = client.selfPosition()
      if (p) {
        off()
        moveX = p.x < middleX ? 1 : -1
        resolve(p.x)
      }
    })
  })
  await new Promise<void>((resolve) => {
    const off = client.on('snapshot', () => {
      if (client.stats().snapshots >= 30) {
        off()
        resolve()
      }
    })
  })
  stop()
  const result: BrowserResult = {
    self: client.self,
    snapshots: client.stats().snapshots,
    inputsSent: client.stats().inputsSent,
    inputsAcked: client.stats().inputsAcked,
    entities: [...client.entities()].length,
    moved: Math.abs((client.selfPosition()?.x ?? startX) - startX),
    states,
  }
  client.close()
  return result
}

;(globalThis as Record<string, unknown>)['tesseraBrowserClient'] = run
