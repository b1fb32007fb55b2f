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
