/**
 * How a `tessera` process ends once its command has returned.
 *
 * A long-running command returns after it has stopped everything it started, and the process should
 * then end by itself. Native handles can outlive that stop: a WebRTC peer connection that a client
 * abandoned mid-handshake is released by node-datachannel only later, and node-datachannel's
 * process-wide `cleanup()` is no way out (it aborts on callbacks still queued). A process that has
 * stopped must not linger on such a handle, so it gets a short grace to end naturally, then exits
 * with its code and names what was still open, so that a leak stays visible.
 */

/** Default grace between a command's return and a forced exit: longer than geckos' 2 s peer-close timeouts. */
export const EXIT_GRACE_MS = 3_000

export function exitWhenStopped(code: number, graceMs = EXIT_GRACE_MS, out: NodeJS.WritableStream = process.stderr): void {
  process.exitCode = code
  const timer = setTimeout(() => {
    const open = process.getActiveResourcesInfo().join(', ')
    out.write(`tessera: still running ${graceMs} ms after stopping (open: ${open}); exiting\n`)
    process.exit(code)
  }, graceMs)
  // Only a process that would otherwise linger sees this timer fire.
  timer.unref()
}
