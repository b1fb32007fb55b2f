/**
 * Guards every callback that geckos.io hands to node-datachannel.
 *
 * Why: node-datachannel calls JS callbacks from a native thread-safe function; a JS exception thrown
 * there becomes a C++ `Napi::Error` that nobody catches, and the process aborts (SIGABRT). geckos.io
 * 3.1.0 has such throws on paths a remote client controls: a client that closes inside its connect
 * callback makes the server's `onOpen` run after `dataChannel` was nulled (`Cannot read properties
 * of null (reading 'onMessage')`), and a text message `null` makes its JSON parser throw. Its async
 * state-change callback can also reject with nobody listening.
 *
 * The native classes' prototype methods are read-only, so the guard works per instance: it wraps
 * `WebRTCConnection.prototype.init` (geckos' own JS class) and, on each new peer connection, shadows
 * the callback-registering methods with own properties that wrap the callback in try/catch (and
 * catch a returned promise's rejection). Data channels made by that peer connection get the same.
 * Installing is idempotent; it changes no behaviour besides catching.
 */
import WebRTCConnection from '@geckos.io/server/lib/wrtc/webrtcConnection.js'

/** Receives what a guarded callback threw, with the name of the callback. */
export type GuardSink = (where: string, err: unknown) => void

const sinks = new Set<GuardSink>()
const installed = Symbol.for('tessera.geckosNativeGuard')

const pcCallbacks = [
  'onLocalDescription',
  'onLocalCandidate',
  'onStateChange',
  'onIceStateChange',
  'onSignalingStateChange',
  'onGatheringStateChange',
  'onDataChannel',
  'onTrack',
] as const
const dcCallbacks = ['onOpen', 'onClosed', 'onError', 'onBufferedAmountLow', 'onMessage'] as const

type Callback = (...args: unknown[]) => unknown
type Registrar = (cb: Callback) => void
type Native = Record<string, unknown>

function report(where: string, err: unknown): void {
  for (const sink of sinks) {
    try {
      sink(where, err)
    } catch {
      // A sink that throws must not undo the guard.
    }
  }
}

function guardCallback(where: string, cb: Callback): Callback {
  return (...args: unknown[]) => {
    try {
      const result = cb(...args)
      if (result instanceof Promise) result.catch((err: unknown) => report(where, err))
    } catch (err) {
      report(where, err)
    }
  }
}

function shadow(target: Native, names: readonly string[], kind: string): void {
  for (const name of names) {
    const original = target[name]
    if (typeof original !== 'function') continue
    const register = (original as Registrar).bind(target)
    Object.defineProperty(target, name, {
      configurable: true,
      writable: true,
      value: (cb: Callback) => register(guardCallback(`${kind}.${name}`, cb)),
    })
  }
}

function guardPeerConnection(pc: Native): void {
  shadow(pc, pcCallbacks, 'pc')
  const createDataChannel = pc['createDataChannel']
  if (typeof createDataChannel !== 'function') return
  const create = (createDataChannel as (...a: unknown[]) => unknown).bind(pc)
  Object.defineProperty(pc, 'createDataChannel', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      const dc = create(...args)
      if (dc !== null && typeof dc === 'object') shadow(dc as Native, dcCallbacks, 'dc')
      return dc
    },
  })
}

/**
 * Installs the guard (once per process) and adds `sink` to the receivers of caught errors.
 * Returns a function that removes the sink; the guard itself stays.
 */
export function installNativeGuard(sink: GuardSink): () => void {
  const proto = WebRTCConnection.prototype as unknown as Record<symbol | string, unknown>
  if (proto[installed] !== true) {
    const init = proto['init'] as (this: unknown) => Promise<unknown>
    proto['init'] = async function guardedInit(this: unknown): Promise<unknown> {
      const pc = await init.call(this)
      if (pc !== null && typeof pc === 'object') guardPeerConnection(pc as Native)
      return pc
    }
    proto[installed] = true
  }
  sinks.add(sink)
  return () => {
    sinks.delete(sink)
  }
}
