/**
 * `tessera <command>`: the one entry point for every process. This is the composition root: the
 * only place that reads `process.env` and argv and wires services together.
 */
import { ConfigError } from '../../core/config.ts'

/** Runs a command; resolves with the process exit code (long-running services resolve on stop). */
export type CommandRun = (argv: readonly string[]) => Promise<number>

export interface Command {
  summary: string
  /** Loaded only when the command runs, so `tessera ctl` does not load the worker's dependencies. */
  load(): Promise<CommandRun>
}

export const commands: Record<string, Command> = {
  coordinator: {
    summary: 'run a coordinator (partition planning, leader election, operator API)',
    load: async () => {
      const { runCoordinator } = await import('./coordinator.ts')
      return (argv) => runCoordinator(argv, process.env)
    },
  },
  worker: {
    summary: 'run a worker (simulates partitions, serves players over geckos.io)',
    load: async () => {
      const { runWorker } = await import('./worker.ts')
      return (argv) => runWorker(argv, process.env)
    },
  },
  gateway: {
    summary: 'run a gateway (rooms, joins, matchmaking, tickets over HTTP)',
    load: async () => {
      const { runGateway } = await import('./gateway.ts')
      return (argv) => runGateway(argv, process.env)
    },
  },
  dev: {
    summary: 'run the whole cluster in one process on an in-memory store, with bots',
    load: async () => {
      const { runDev } = await import('./dev.ts')
      return (argv) => runDev(argv, process.env)
    },
  },
  ctl: {
    summary: 'operate a running cluster through the coordinator API',
    load: async () => {
      const { runCtl } = await import('./ctl.ts')
      return (argv) => runCtl(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env })
    },
  },
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length))
  return ['usage: tessera <command> [options]', '', 'commands:']
    .concat(Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`))
    .join('\n')
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`)
    return name === undefined ? 2 : 0
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`tessera: unknown command "${name}"\n${usage()}\n`)
    return 2
  }
  try {
    const run = await command.load()
    return await run(rest)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tessera ${name}: ${err.message}\n`)
      return 2
    }
    process.stderr.write(`tessera ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    return 1
  }
}
