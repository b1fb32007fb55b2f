/**
 * Waiting in a benchmark's set-up for something to become true (a leader, a partition, a link):
 * `check` is asked every `everyMs` until it answers true; an error it throws counts as "not yet".
 */
import { sleep } from './ticker.ts'

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}
