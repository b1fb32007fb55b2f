/**
 * What every long-running `tessera` command shares: options from flags/env/file, a logger, a store,
 * and a clean stop on SIGTERM/SIGINT.
 */
import type { z } from 'zod'
import { loadOptions, parseFlags } from '../../core/config.ts'
import { componentLogger, createLogger } from '../../core/log.ts'
import type { Logger } from '../../core/log.ts'
import { createStore } from '../../core/store/index.ts'
import type { ClusterStore } from '../../core/store/types.ts'

export interface ServiceContext<T> {
  options: T
  logger: Logger
}

/** Parse a service's options from argv, the environment and `--config file`. */
export function serviceOptions<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  argv: readonly string[],
  env: Record<string, string | undefined>,
): z.infer<z.ZodObject<Shape>> {
  const { flags, positionals } = parseFlags(argv)
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`)
  const { config, ...rest } = flags
  return loadOptions(schema, { flags: rest, env, ...(typeof config === 'string' ? { file: config } : {}) })
}

export function serviceLogger(component: string, level: string, id: string): Logger {
  const root = createLogger({ level: level as 'info', base: { node: id } })
  return componentLogger(root, component)
}

/** An etcd store when endpoints are given, else the in-memory one (only useful in one process). */
export function serviceStore(etcdEndpoints: readonly string[], logger: Logger): ClusterStore {
  return etcdEndpoints.length > 0
    ? createStore({ kind: 'etcd', endpoints: [...etcdEndpoints] }, componentLogger(logger, 'store'))
    : createStore({ kind: 'memory' }, componentLogger(logger, 'store'))
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on)
      process.off('SIGINT', on)
      resolve(signal)
    }
    process.on('SIGTERM', on)
    process.on('SIGINT', on)
  })
}
