/**
 * The benchmarks' handle on a server in a child process: a reply resolves its wait, and a child
 * that dies ends every wait at once with the reason, instead of leaving it (and its timer, which
 * keeps the bench process alive) until the timeout.
 */
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ServerChild } from '../../scripts/bench/lib/server-child.ts'

type Msg = { type: 'ready' } | { type: 'stop' }

function child(code: string): ServerChild<Msg, Msg> {
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
  return new ServerChild<Msg, Msg>(proc, { type: 'stop' })
}

describe('ServerChild', () => {
  it('resolves a wait with the reply', async () => {
    const c = child("process.send({ type: 'ready' }); process.on('message', () => process.exit(0))")
    await expect(c.next('ready', 20_000)).resolves.toEqual({ type: 'ready' })
    await c.stop()
  })

  it('ends a wait when the child exits before replying', async () => {
    const c = child('setTimeout(() => process.exit(3), 50)')
    // A minute's wait: far past this test's own time limit, had the exit not ended it.
    await expect(c.next('ready', 60_000)).rejects.toThrow('exited (3) before "ready"')
    // And a wait begun after it died fails at once.
    await expect(c.next('ready', 60_000)).rejects.toThrow('exited (3)')
  })
})
