import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js')
const tessera = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 })

describe('tessera command line', () => {
  it('lists its commands with --help and exits 0', () => {
    const run = tessera('--help')
    expect(run.status).toBe(0)
    for (const name of ['coordinator', 'worker', 'gateway', 'dev', 'ctl']) expect(run.stdout).toContain(name)
  })

  it('refuses an unknown command with a non-zero exit', () => {
    const run = tessera('teleport')
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('unknown command "teleport"')
  })

  it('exits non-zero without a command', () => {
    expect(tessera().status).toBe(2)
  })
})

describe('a tessera process that has stopped', () => {
  const run = (code: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 15_000, cwd: join(import.meta.dirname, '..', '..') })

  it('exits with its code after a grace when a handle still holds it, and names what was open', () => {
    const held = run(`import { exitWhenStopped } from './scripts/cli/exit.ts'; setInterval(() => {}, 1000); exitWhenStopped(3, 200)`)
    expect(held.signal).toBeNull()
    expect(held.status).toBe(3)
    expect(held.stderr).toMatch(/still running 200 ms after stopping \(open: .*Timeout/)
  })

  it('ends by itself, without a word, when nothing holds it', () => {
    const idle = run(`import { exitWhenStopped } from './scripts/cli/exit.ts'; exitWhenStopped(0, 10_000)`)
    expect(idle.status).toBe(0)
    expect(idle.stderr).toBe('')
  })
})
