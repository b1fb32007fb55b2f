/**
 * `tessera ctl`: operate a running cluster through a coordinator's operator API. Tables for people,
 * `--json` for scripts; HTTP and connection errors end with a message and a non-zero exit.
 * Exit codes: 0 done, 1 the coordinator refused or could not be reached, 2 wrong usage.
 */
import { z } from 'zod'
import type { ActionResult, ApiErrorBody, ClusterEvent, ClusterSummary, WorldDetail } from '../../core/api/types.ts'
import { parseGlobalPartitionId } from '../../core/api/types.ts'
import { ConfigError, loadOptions, opt, parseFlags } from '../../core/config.ts'
import { formatEvent, formatWorkers, formatWorld, formatWorlds } from './ctl-format.ts'
import { readSse } from './sse.ts'

export interface CtlIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** Environment to read `TESSERA_COORDINATOR_URL` (and other `TESSERA_*` options) from. */
  env: Record<string, string | undefined>
  /** Stops a running `events` (which otherwise follows the stream until the process ends). */
  signal?: AbortSignal
}

const ctlOptions = z.object({
  /** `--url`; env `TESSERA_COORDINATOR_URL`. */
  coordinatorUrl: z
    .string()
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http:// or https:// URL')
    .default('http://127.0.0.1:7070'),
  json: opt.bool().default(false),
  /** `events`: stop after this many events. */
  limit: opt.int().min(1).optional(),
  /** `events`: start after this event seq (default: every event the coordinator still holds). */
  after: opt.int().min(0).optional(),
  /** ms to wait for an answer (for `events`: for the stream to open). */
  timeout: opt.int().min(1).default(10_000),
})
type CtlOptions = z.infer<typeof ctlOptions>

/** Flags that take no value: `--json workers` must not read `workers` as the flag's value. */
const booleanFlags = new Set(['--json', '--help', '-h'])

interface Context {
  options: CtlOptions
  io: CtlIo
  out(text: string): void
}

/** A failure to report in one line; `exitCode` 2 for usage errors. */
class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

interface Subcommand {
  args: string
  summary: string
  run(ctx: Context, arg: string | undefined): Promise<void>
}

const action = (path: (id: string) => string) => async (ctx: Context, id: string | undefined) => {
  const result = await request<ActionResult>(ctx, 'POST', path(id ?? ''))
  ctx.out(ctx.options.json ? JSON.stringify(result) : result.message)
}

const partitionPath = (verb: string) => (id: string) => {
  if (!parseGlobalPartitionId(id)) throw new CtlError(`partition id "${id}" must be {worldId}:{partitionId}, e.g. w1:p3`, 2)
  return `api/v1/partitions/${encodeURIComponent(id)}/${verb}`
}

const subcommands: Record<string, Subcommand> = {
  workers: {
    args: '',
    summary: 'workers with load and capacity, and cluster totals',
    run: async (ctx) => {
      const cluster = await request<ClusterSummary>(ctx, 'GET', 'api/v1/cluster')
      ctx.out(ctx.options.json ? JSON.stringify(cluster.workers) : formatWorkers(cluster))
    },
  },
  worlds: {
    args: '',
    summary: 'worlds and rooms with their partition counts',
    run: async (ctx) => {
      const cluster = await request<ClusterSummary>(ctx, 'GET', 'api/v1/cluster')
      ctx.out(ctx.options.json ? JSON.stringify(cluster.worlds) : formatWorlds(cluster))
    },
  },
  world: {
    args: 'ID',
    summary: "a world's spec and partition map (owners, epochs, loads)",
    run: async (ctx, id) => {
      const world = await request<WorldDetail>(ctx, 'GET', `api/v1/worlds/${encodeURIComponent(id ?? '')}`)
      ctx.out(ctx.options.json ? JSON.stringify(world) : formatWorld(world))
    },
  },
  drain: { args: 'WORKER', summary: 'move partitions off a worker and give it no new ones', run: action((id) => `api/v1/workers/${encodeURIComponent(id)}/drain`) },
  split: { args: 'WORLD:PARTITION', summary: 'split a partition in two', run: action(partitionPath('split')) },
  merge: { args: 'WORLD:PARTITION', summary: 'merge a partition with its sibling', run: action(partitionPath('merge')) },
  pin: { args: 'WORLD:PARTITION', summary: 'keep a partition on its owner', run: action(partitionPath('pin')) },
  unpin: { args: 'WORLD:PARTITION', summary: 'let the planner move a partition again', run: action(partitionPath('unpin')) },
  pause: { args: '', summary: 'pause rebalancing', run: action(() => 'api/v1/rebalancing/pause') },
  resume: { args: '', summary: 'resume rebalancing', run: action(() => 'api/v1/rebalancing/resume') },
  events: { args: '', summary: 'follow the event stream (--limit N to stop, --after SEQ to resume)', run: followEvents },
}

function usage(): string {
  const names = Object.entries(subcommands).map(([name, c]) => [`${name}${c.args ? ` ${c.args}` : ''}`, c.summary] as const)
  const width = Math.max(...names.map(([n]) => n.length))
  return [
    'usage: tessera ctl <command> [--url URL] [--json]',
    '',
    'commands:',
    ...names.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`),
    '',
    'options:',
    '  --url URL      coordinator API (env TESSERA_COORDINATOR_URL; default http://127.0.0.1:7070)',
    '  --json         print the API answer as JSON (events: one JSON object per line)',
    '  --limit N      events: stop after N events',
    '  --after SEQ    events: start after event SEQ',
    '  --timeout MS   wait at most MS for an answer (default 10000)',
  ].join('\n')
}

/** Runs `tessera ctl` with `argv` (after `ctl`); resolves with the exit code. */
export async function runCtl(argv: readonly string[], io: CtlIo): Promise<number> {
  const { flags, positionals } = parseFlags(argv.map((a) => (booleanFlags.has(a) ? `${a.replace(/^-h$/, '--help')}=true` : a)))
  if (flags.help !== undefined) {
    io.stdout.write(`${usage()}\n`)
    return 0
  }
  const [name, arg, ...extra] = positionals
  const command = name === undefined ? undefined : subcommands[name]
  if (!command || name === undefined) {
    io.stderr.write(`${name === undefined ? '' : `tessera ctl: unknown command "${name}"\n`}${usage()}\n`)
    return 2
  }
  const wantsArg = command.args !== ''
  if ((wantsArg && arg === undefined) || (!wantsArg && arg !== undefined) || extra.length > 0) {
    io.stderr.write(`usage: tessera ctl ${name}${wantsArg ? ` ${command.args}` : ''} [options]\n`)
    return 2
  }

  let options: CtlOptions
  try {
    const { url, ...rest } = flags
    options = loadOptions(ctlOptions, { flags: { ...rest, coordinatorUrl: url }, env: io.env })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    io.stderr.write(`tessera ctl: ${err.message.replace(/\bcoordinatorUrl:/, 'url:').replace('flag --coordinator-url', 'flag --url')}\n`)
    return 2
  }

  const ctx: Context = { options, io, out: (text) => io.stdout.write(`${text}\n`) }
  try {
    await command.run(ctx, arg)
    return 0
  } catch (err) {
    if (!(err instanceof CtlError)) throw err
    io.stderr.write(`tessera ctl ${name}: ${err.message}\n`)
    return err.exitCode
  }
}

function apiUrl(ctx: Context, path: string): URL {
  // A base with a path (a proxy's prefix) keeps it: resolve against it as a directory.
  const base = ctx.options.coordinatorUrl.endsWith('/') ? ctx.options.coordinatorUrl : `${ctx.options.coordinatorUrl}/`
  return new URL(path, base)
}

/** Why fetch failed, in words: connection refused, unknown host, timeout. */
function unreachable(ctx: Context, err: unknown): CtlError {
  const where = `cannot reach the coordinator at ${ctx.options.coordinatorUrl}`
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new CtlError(`${where}: no answer within ${ctx.options.timeout} ms`)
  }
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined
  const reasons: Record<string, string> = { ECONNREFUSED: 'connection refused', ENOTFOUND: 'unknown host', ECONNRESET: 'connection reset', EHOSTUNREACH: 'host unreachable' }
  const reason = cause?.code !== undefined ? (reasons[cause.code] ?? cause.code) : (cause?.message ?? (err instanceof Error ? err.message : String(err)))
  return new CtlError(`${where}: ${reason}`)
}

async function httpError(ctx: Context, res: Response): Promise<CtlError> {
  const text = await res.text().catch(() => '')
  let body: Partial<ApiErrorBody> | undefined
  try {
    body = JSON.parse(text) as Partial<ApiErrorBody>
  } catch {
    body = undefined
  }
  const error = body?.error
  if (!error || typeof error.message !== 'string') return new CtlError(`HTTP ${res.status} ${res.statusText} from ${ctx.options.coordinatorUrl}`)
  let hint = ''
  if (error.code === 'not_leader') {
    // Point at the leader rather than leave the operator guessing; the summary names it.
    const leader = await fetch(apiUrl(ctx, 'api/v1/cluster'), { signal: AbortSignal.timeout(ctx.options.timeout) })
      .then(async (r) => (r.ok ? ((await r.json()) as ClusterSummary).leader : null))
      .catch(() => null)
    if (leader) hint = `\n  the leader is ${leader.id}: try --url ${leader.apiUrl}`
  }
  return new CtlError(`${error.message} (${error.code}, HTTP ${res.status})${hint}`)
}

async function request<T>(ctx: Context, method: 'GET' | 'POST', path: string): Promise<T> {
  let res: Response
  try {
    res = await fetch(apiUrl(ctx, path), { method, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(ctx.options.timeout) })
  } catch (err) {
    throw unreachable(ctx, err)
  }
  if (!res.ok) throw await httpError(ctx, res)
  try {
    return (await res.json()) as T
  } catch (err) {
    throw new CtlError(`the coordinator answered something that is not JSON: ${err instanceof Error ? err.message : String(err)}`)
  }
}

async function followEvents(ctx: Context): Promise<void> {
  const { after, limit, json, timeout } = ctx.options
  const abort = new AbortController()
  const stop = () => abort.abort()
  ctx.io.signal?.addEventListener('abort', stop, { once: true })
  // The timeout covers opening the stream only; once open, it runs until stopped.
  const opening = setTimeout(() => abort.abort(new DOMException('timeout', 'TimeoutError')), timeout)
  try {
    let res: Response
    try {
      res = await fetch(apiUrl(ctx, `api/v1/events${after === undefined ? '' : `?after=${after}`}`), {
        headers: { accept: 'text/event-stream' },
        signal: abort.signal,
      })
    } catch (err) {
      if (ctx.io.signal?.aborted) return
      throw unreachable(ctx, abort.signal.reason instanceof Error ? abort.signal.reason : err)
    } finally {
      clearTimeout(opening)
    }
    if (!res.ok) throw await httpError(ctx, res)
    if (!res.body) throw new CtlError('the coordinator sent no event stream')
    let seen = 0
    try {
      for await (const item of readSse(res.body)) {
        if (item.kind !== 'event') continue
        let event: ClusterEvent
        try {
          event = JSON.parse(item.data) as ClusterEvent
        } catch {
          throw new CtlError(`the coordinator sent an event that is not JSON: ${item.data.slice(0, 80)}`)
        }
        ctx.out(json ? JSON.stringify(event) : formatEvent(event))
        if (limit !== undefined && ++seen >= limit) return
      }
    } catch (err) {
      if (ctx.io.signal?.aborted) return
      if (err instanceof CtlError) throw err
      throw new CtlError(`event stream broke: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (!ctx.io.signal?.aborted) throw new CtlError(`the coordinator at ${ctx.options.coordinatorUrl} ended the event stream`)
  } finally {
    ctx.io.signal?.removeEventListener('abort', stop)
    abort.abort()
  }
}
