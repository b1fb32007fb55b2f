/** `tessera worker`: one worker process with its client transport. */
import { readFile } from 'node:fs/promises'
import { componentLogger } from '../../core/log.ts'
import { scopedKeys } from '../../core/store/keys.ts'
import { importPrivateKeyPem, importPublicKeys } from '../../core/tickets.ts'
import type { TicketClaims } from '../../core/tickets.ts'
import { createDemoGame } from '../../worker/game/demo.ts'
import { workerOptionsSchema } from '../../worker/options.ts'
import { ticketAdmission } from '../../worker/ticket-admission.ts'
import { ClientTransport } from '../../worker/transport/geckos-server.ts'
import { playerRecords } from '../../worker/player-records.ts'
import { Worker } from '../../worker/worker.ts'
import { serviceLogger, serviceOptions, serviceStore, untilSignal } from './service.ts'

export async function runWorker(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const options = serviceOptions(workerOptionsSchema, argv, env)
  const logger = serviceLogger('worker', options.logLevel, options.id)
  if (Object.keys(options.ticketPublicKeys).length === 0) {
    throw new Error('no --ticket-public-keys (kid=path-to-public-pem,...): the worker could admit no player')
  }
  const pems: Record<string, string> = {}
  for (const [kid, path] of Object.entries(options.ticketPublicKeys)) pems[kid] = await readFile(path, 'utf8')
  const publicKeys = await importPublicKeys(pems)
  const ticketSigner = options.ticketPrivateKeyFile === undefined
    ? undefined
    : { privateKey: await importPrivateKeyPem(await readFile(options.ticketPrivateKeyFile, 'utf8')), kid: options.ticketKeyId }
  if (ticketSigner && !(ticketSigner.kid in options.ticketPublicKeys)) {
    throw new Error(`--ticket-key-id ${ticketSigner.kid} is not among --ticket-public-keys: no worker would admit the tickets it signs`)
  }
  if (options.etcdEndpoints.length === 0) logger.warn('no --etcd-endpoints: running on an in-memory store of its own')
  const store = serviceStore(options.etcdEndpoints, logger)
  const transport = await ClientTransport.start<TicketClaims>({
    authorize: ticketAdmission(() => publicKeys, (id) => id === options.id),
    host: options.host,
    port: options.port,
    udpPort: options.udpPort,
    logger: componentLogger(logger, 'transport'),
  })
  const keys = scopedKeys(options.keyPrefix)
  const worker = new Worker({
    store, keys, options, logger, transport, game: () => createDemoGame({}),
    onPlayer: playerRecords({ store, keys, workerId: options.id, logger }),
    ...(ticketSigner ? { ticketSigner } : {}),
  })
  await worker.start()
  process.stdout.write(`${JSON.stringify({ ready: 'worker', id: options.id, ...worker.addresses })}\n`)
  const signal = await untilSignal()
  logger.info({ signal }, 'stopping')
  // Hand everything to other workers first (when a coordinator leads), so a rolling restart loses no one.
  const drained = await worker.drain()
  logger.info({ drained }, 'stopped')
  await transport.close()
  await store.close()
  return 0
}
