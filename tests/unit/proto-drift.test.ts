import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

// proto/*.proto is the contract and proto/gen/ is committed: regenerating must change nothing.
const root = join(import.meta.dirname, '..', '..')
const out = mkdtempSync(join(tmpdir(), 'tessera-proto-'))

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? listFiles(path) : [path]
  })
}

describe('generated gRPC code', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it('is what `npm run proto` would generate from proto/', () => {
    execFileSync(join(root, 'node_modules', '.bin', 'buf'), ['generate', '-o', out], { cwd: root, stdio: 'pipe' })
    const committed = join(root, 'proto', 'gen')
    const fresh = join(out, 'proto', 'gen')
    const names = (dir: string) => listFiles(dir).map((f) => relative(dir, f)).sort()
    expect(names(fresh)).toEqual(names(committed))
    for (const name of names(fresh)) {
      expect(readFileSync(join(fresh, name), 'utf8'), `proto/gen/${name} is stale: run npm run proto`).toBe(
        readFileSync(join(committed, name), 'utf8'),
      )
    }
  })

  it('carries a do-not-edit header in every file', () => {
    for (const file of listFiles(join(root, 'proto', 'gen'))) {
      expect(readFileSync(file, 'utf8').split('\n', 1)[0]).toMatch(/DO NOT EDIT/)
    }
  })
})
