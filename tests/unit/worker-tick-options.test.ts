/**
 * The worker's tick-loop option reaches its loop: `tickSpin` (default true) picks the scheduler
 * that turns the event loop through each tick's last millisecond, `tickSpin: false` the one that
 * waits asleep. Nothing is started: the loop is chosen when the worker is made.
 */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/log.ts'
import { MemoryStore } from '../../core/store/index.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptions } from '../../worker/options.ts'
import { sleepingScheduler, timerScheduler } from '../../worker/tick-loop.ts'
import type { Scheduler } from '../../worker/tick-loop.ts'
import type { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { Worker } from '../../worker/worker.ts'

function schedulerOf(options: Parameters<typeof workerOptions>[0]): Scheduler {
  const worker = new Worker({
    store: new MemoryStore(), keys: scopedKeys('/wt/'), transport: {} as ClientTransport<TicketClaims>, logger: silentLogger(),
    game: () => createDemoGame({}), options: workerOptions({ id: 'w1', logLevel: 'silent', ...options }),
  })
  return (worker as unknown as { loop: { scheduler: Scheduler } }).loop.scheduler
}

describe('a worker’s tick loop', () => {
  it('turns the event loop before each tick by default', () => {
    expect(schedulerOf({})).toBe(timerScheduler)
  })

  it('waits asleep with tickSpin: false', () => {
    expect(schedulerOf({ tickSpin: false })).toBe(sleepingScheduler)
  })
})
