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

/** Commands not built yet answer that they are not available rather than pretending to work. */
const notYet = (summary: string): Command => ({
  summary,
  load: async () => async () => {
    process.stderr.write(`tessera: this command is not available in this version yet: ${summary}\n`)
    return 2
  },
})

export const commands: Record<string, Command> = {
  coordinator: notYet('run a coordinator (partition planning, leader election, operator API)'),
  worker: notYet('run a worker (simulates partitions, serves players over geckos.io)'),
  gateway: notYet('run a gateway (rooms, joins, matchmaking, tickets over HTTP)'),
  dev: notYet('run the whole cluster in one process on an in-memory store, with bots'),
  ctl: notYet('operate a running cluster through the coordinator API'),
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
