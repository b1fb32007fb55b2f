/** Stopping child processes the scripts start (bots, services) without ever waiting forever. */
import type { ChildProcess } from 'node:child_process'

/**
 * Ask `child` to stop with `signal` and resolve once it has exited; a child still running after
 * `graceMs` (default 5 s) is killed with SIGKILL.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}
