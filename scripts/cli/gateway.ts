/** `tessera gateway`: one gateway process (any number may run side by side). */
import { exportPublicKeyPem } from '../../core/tickets.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { Gateway } from '../../gateway/gateway.ts'
import { gatewayOptionsSchema } from '../../gateway/options.ts'
import { serviceLogger, serviceOptions, serviceStore, untilSignal } from './service.ts'

export async function runGateway(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const options = serviceOptions(gatewayOptionsSchema, argv, env)
  const logger = serviceLogger('gateway', options.logLevel, options.id)
  if (options.etcdEndpoints.length === 0) logger.warn('no --etcd-endpoints: running on an in-memory store of its own')
  const store = serviceStore(options.etcdEndpoints, logger)
  const gateway = new Gateway(store, scopedKeys(options.keyPrefix), options, logger)
  await gateway.start()
  const generated = gateway.ticketKey?.publicKey
  if (generated) logger.warn('no ticket key configured: signing with a generated key (development only); workers need its public key')
  // A line for scripts and tests that start this process and need its address (and a generated key).
  const ready: Record<string, string> = { ready: 'gateway', id: options.id, url: gateway.address, kid: options.ticketKeyId }
  if (generated) ready.ticketPublicKey = await exportPublicKeyPem(generated)
  process.stdout.write(`${JSON.stringify(ready)}\n`)
  const signal = await untilSignal()
  logger.info({ signal }, 'stopping')
  await gateway.stop()
  await store.close()
  return 0
}
