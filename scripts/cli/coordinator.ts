/** `tessera coordinator`: one coordinator process (any number may run; one leads). */
import { Coordinator } from '../../coordinator/coordinator.ts'
import { coordinatorOptionsSchema } from '../../coordinator/options.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { builtDashboardDir } from './dashboard.ts'
import { serviceLogger, serviceOptions, serviceStore, untilSignal } from './service.ts'

export async function runCoordinator(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const parsed = serviceOptions(coordinatorOptionsSchema, argv, env)
  // Without --dashboard-dir, serve the repository's build when there is one.
  const options = { ...parsed, dashboardDir: parsed.dashboardDir ?? builtDashboardDir() }
  const logger = serviceLogger('coordinator', options.logLevel, options.id)
  if (options.etcdEndpoints.length === 0) logger.warn('no --etcd-endpoints: running on an in-memory store of its own')
  const store = serviceStore(options.etcdEndpoints, logger)
  const coordinator = new Coordinator(store, scopedKeys(options.keyPrefix), options, logger)
  await coordinator.start()
  // A line for scripts and tests that start this process and need its addresses.
  process.stdout.write(`${JSON.stringify({ ready: 'coordinator', id: options.id, ...coordinator.addresses })}\n`)
  const signal = await untilSignal()
  logger.info({ signal }, 'stopping')
  await coordinator.stop()
  await store.close()
  return 0
}
