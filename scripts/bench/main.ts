/**
 * `npm run bench -- <scenario> [flags]`: runs one benchmark scenario, prints a table for people and,
 * with `--json`, one JSON line last for machines: {"scenario", "params", "metrics"}.
 */
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchFlags, Scenario } from './scenario.ts'
import { formatTable } from './scenario.ts'

const here = dirname(fileURLToPath(import.meta.url))
const notScenarios = new Set(['main.ts', 'scenario.ts'])

function scenarioNames(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !notScenarios.has(f))
    .map((f) => f.slice(0, -3))
    .sort()
}

export function parseBenchArgs(argv: readonly string[]): { name: string | undefined; flags: BenchFlags } {
  const flags: BenchFlags = { allVisible: false, store: 'memory', json: false, extra: {} }
  let name: string | undefined
  const numeric = new Set(['bots', 'workers', 'seconds', 'hz', 'radius'])
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('--')) {
      if (name !== undefined) throw new Error(`unexpected argument "${arg}"`)
      name = arg
      continue
    }
    const key = arg.slice(2)
    if (key === 'json') flags.json = true
    else if (key === 'all-visible') flags.allVisible = true
    else {
      const value = argv[++i]
      if (value === undefined) throw new Error(`--${key} needs a value`)
      if (key === 'store') {
        if (value !== 'memory' && value !== 'etcd') throw new Error('--store must be memory or etcd')
        flags.store = value
      } else if (numeric.has(key)) {
        const n = Number(value)
        if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} must be a positive number, got "${value}"`)
        ;(flags as unknown as Record<string, number>)[key] = n
      } else flags.extra[key] = value
    }
  }
  return { name, flags }
}

async function main(): Promise<void> {
  const { name, flags } = parseBenchArgs(process.argv.slice(2))
  const names = scenarioNames()
  if (name === undefined || !names.includes(name)) {
    process.stderr.write(`usage: npm run bench -- <scenario> [--bots N] [--workers K] [--seconds S] [--hz H] ` +
      `[--radius R] [--all-visible] [--store memory|etcd] [--json]\nscenarios: ${names.join(', ')}\n`)
    process.exit(2)
  }
  const mod = (await import(join(here, `${name}.ts`))) as { default: Scenario }
  const result = await mod.default.run(flags)
  process.stdout.write(`\n${mod.default.name}: ${mod.default.description}\n`)
  process.stdout.write(`params: ${JSON.stringify(result.params)}\n`)
  for (const note of result.notes ?? []) process.stdout.write(`${note}\n`)
  process.stdout.write(`${formatTable(result)}\n`)
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ scenario: mod.default.name, params: result.params, metrics: result.metrics })}\n`)
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
