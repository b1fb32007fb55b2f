/**
 * Service options come from four places, later ones winning: the schema's defaults, an optional JSON
 * file (`--config path`), environment variables (`TESSERA_<SCREAMING_SNAKE_NAME>`), and command-line
 * flags (`--kebab-name value`). Each service declares one zod schema and calls `loadOptions` once in
 * its `main`; nothing reads `process.env` anywhere else. Bad input fails with a `ConfigError` that
 * names every bad field and where its value came from.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'

export class ConfigError extends Error {
  readonly code = 'bad_config'
  constructor(
    message: string,
    /** One entry per bad field: its name, the problem, and where the value came from. */
    readonly issues: readonly { field: string; problem: string; source: string }[] = [],
  ) {
    super(message)
    this.name = 'ConfigError'
  }
}

export interface OptionSources {
  /** Parsed command-line flags, keyed by flag name as typed (`etcd-endpoints`) or camelCase. */
  flags?: Record<string, string | boolean | undefined>
  /** The process environment (only `TESSERA_*` variables for known fields are read). */
  env?: Record<string, string | undefined>
  /** Prefix of environment variables. Default `TESSERA_`. */
  envPrefix?: string
  /** Path of a JSON file with options, keyed by camelCase field name. */
  file?: string
}

const camelToKebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const kebabToCamel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
const camelToEnv = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()

/** Parse, default and validate a service's options. Unknown flags and file keys are errors. */
export function loadOptions<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  sources: OptionSources = {},
): z.infer<z.ZodObject<Shape>> {
  const fields = Object.keys(schema.shape)
  const merged: Record<string, unknown> = {}
  const origin: Record<string, string> = {}
  const unknown: { field: string; problem: string; source: string }[] = []

  if (sources.file !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(sources.file, 'utf8'))
    } catch (err) {
      throw new ConfigError(`cannot read config file ${sources.file}: ${(err as Error).message}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${sources.file} must hold a JSON object`)
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (!fields.includes(key)) unknown.push({ field: key, problem: 'unknown option', source: `file ${sources.file}` })
      merged[key] = value
      origin[key] = `file ${sources.file}`
    }
  }

  const prefix = sources.envPrefix ?? 'TESSERA_'
  for (const field of fields) {
    const name = prefix + camelToEnv(field)
    const value = sources.env?.[name]
    if (value !== undefined && value !== '') {
      merged[field] = value
      origin[field] = `env ${name}`
    }
  }

  for (const [rawKey, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue
    const field = kebabToCamel(rawKey)
    if (!fields.includes(field)) {
      unknown.push({ field: rawKey, problem: 'unknown option', source: `flag --${camelToKebab(rawKey)}` })
      continue
    }
    merged[field] = value
    origin[field] = `flag --${camelToKebab(field)}`
  }

  const result = schema.safeParse(merged)
  const issues = [...unknown]
  if (!result.success) {
    for (const issue of result.error.issues) {
      const field = issue.path.map(String).join('.') || '(options)'
      const top = String(issue.path[0] ?? '')
      issues.push({ field, problem: issue.message, source: origin[top] ?? 'default' })
    }
  }
  if (issues.length > 0 || !result.success) {
    const lines = issues.map((i) => `  ${i.field}: ${i.problem} (from ${i.source})`)
    throw new ConfigError(`invalid options:\n${lines.join('\n')}`, issues)
  }
  return result.data
}

/** Helpers for option schemas whose values may arrive as strings from flags or env. */
export const opt = {
  /** A number; strings are converted. */
  number: () => z.coerce.number().refine(Number.isFinite, 'must be a finite number'),
  int: () => z.coerce.number().int('must be a whole number'),
  port: () => z.coerce.number().int().min(0).max(65535),
  /** true/false, 1/0, yes/no, or a bare flag. */
  bool: () =>
    z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes'),
  /** A comma-separated list (from flags/env) or an array (from a file). */
  list: () =>
    z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (Array.isArray(v) ? v : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0))),
  /** `k=v,k2=v2` (from flags/env) or an object (from a file). */
  labels: () =>
    z.union([z.string(), z.record(z.string(), z.string())]).transform((v, ctx) => {
      if (typeof v !== 'string') return v
      const out: Record<string, string> = {}
      for (const pair of v.split(',').filter((s) => s.trim() !== '')) {
        const [k, val, ...rest] = pair.split('=')
        if (!k || val === undefined || rest.length > 0) {
          ctx.addIssue({ code: 'custom', message: `"${pair}" is not key=value` })
          return z.NEVER
        }
        out[k.trim()] = val.trim()
      }
      return out
    }),
}

/**
 * Split argv into `--key value` / `--flag` pairs and positionals. `--key=value` works too. A flag
 * followed by another flag (or nothing) is a boolean `true`.
 */
export function parseFlags(argv: readonly string[]): { flags: Record<string, string | boolean>; positionals: string[] } {
  const flags: Record<string, string | boolean> = {}
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    if (eq > 0) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1)
      continue
    }
    const next = argv[i + 1]
    if (next !== undefined && !next.startsWith('--')) {
      flags[arg.slice(2)] = next
      i++
    } else flags[arg.slice(2)] = true
  }
  return { flags, positionals }
}
