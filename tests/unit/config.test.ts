import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConfigError, loadOptions, opt, parseFlags } from '../../core/config.ts'

const schema = z.object({
  port: opt.port().default(7000),
  etcdEndpoints: opt.list().default([]),
  draining: opt.bool().default(false),
  labels: opt.labels().default({}),
  name: z.string().min(1).default('w1'),
})

const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('loadOptions', () => {
  it('applies defaults when nothing is given', () => {
    expect(loadOptions(schema)).toEqual({ port: 7000, etcdEndpoints: [], draining: false, labels: {}, name: 'w1' })
  })

  it('layers file < env < flags', () => {
    const file = join(dir, 'a.json')
    writeFileSync(file, JSON.stringify({ port: 1, name: 'from-file', labels: { region: 'eu' } }))
    const options = loadOptions(schema, {
      file,
      env: { TESSERA_PORT: '2', TESSERA_ETCD_ENDPOINTS: 'a:1, b:2', UNRELATED: 'x' },
      flags: { port: '3', draining: true },
    })
    expect(options).toEqual({ port: 3, etcdEndpoints: ['a:1', 'b:2'], draining: true, labels: { region: 'eu' }, name: 'from-file' })
  })

  it('parses kebab-case flags and key=value labels', () => {
    const options = loadOptions(schema, { flags: { 'etcd-endpoints': 'x:1', labels: 'region=eu,tier=gold' } })
    expect(options.etcdEndpoints).toEqual(['x:1'])
    expect(options.labels).toEqual({ region: 'eu', tier: 'gold' })
  })

  it('names the bad field and where it came from', () => {
    const attempt = () => loadOptions(schema, { env: { TESSERA_PORT: 'seventy' }, flags: { labels: 'oops' } })
    expect(attempt).toThrow(ConfigError)
    try {
      attempt()
    } catch (err) {
      const e = err as ConfigError
      expect(e.issues.map((i) => [i.field, i.source])).toEqual(
        expect.arrayContaining([
          ['port', 'env TESSERA_PORT'],
          ['labels', 'flag --labels'],
        ]),
      )
      expect(e.message).toMatch(/port: .*\(from env TESSERA_PORT\)/)
    }
  })

  it('refuses unknown flags and unknown file keys', () => {
    const file = join(dir, 'b.json')
    writeFileSync(file, JSON.stringify({ prot: 1 }))
    expect(() => loadOptions(schema, { flags: { bogus: '1' } })).toThrow(/bogus: unknown option/)
    expect(() => loadOptions(schema, { file })).toThrow(/prot: unknown option/)
  })

  it('refuses a config file that is not a JSON object', () => {
    const file = join(dir, 'c.json')
    writeFileSync(file, '[1,2]')
    expect(() => loadOptions(schema, { file })).toThrow(/must hold a JSON object/)
    expect(() => loadOptions(schema, { file: join(dir, 'missing.json') })).toThrow(/cannot read config file/)
  })
})

describe('parseFlags', () => {
  it('splits flags, booleans and positionals', () => {
    expect(parseFlags(['world', 'w1', '--json', '--url', 'http://x', '--n=3', '--', '--raw'])).toEqual({
      flags: { json: true, url: 'http://x', n: '3' },
      positionals: ['world', 'w1', '--raw'],
    })
  })
})
