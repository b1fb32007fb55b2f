/**
 * Logging: pino JSON lines, one child logger per component. Loggers are created in `main` (or in a
 * test) and passed down; library code never creates a global one or writes to the console.
 */
import { pino } from 'pino'
import type { Logger as PinoLogger, LevelWithSilent } from 'pino'

export type Logger = PinoLogger

export interface LoggerOptions {
  /** Minimum level; `silent` turns logging off (tests). Default `info`. */
  level?: LevelWithSilent
  /** Fields on every line, e.g. `{ node: 'worker-1' }`. */
  base?: Record<string, unknown>
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({ level: options.level ?? 'info', base: options.base ?? {} })
}

/** A logger for one component: every line carries `component`. */
export function componentLogger(parent: Logger, component: string, fields: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...fields })
}

/** A logger that writes nothing: the default in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
