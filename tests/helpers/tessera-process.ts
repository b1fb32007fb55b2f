/**
 * Runs `tessera <command>` as a child process, as in production, and waits for the JSON line the
 * command prints once it is ready (`{"ready": "<command>", ...addresses}`).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const bin = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js')
const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

export interface TesseraProcess {
  child: ChildProcess
  /** The ready line's fields. */
  info: Record<string, string>
  /** Output so far (stdout and stderr), for failure messages. */
  output(): string
  /** Resolves with the exit code (or signal) once the process ended. */
  exited: Promise<number | NodeJS.Signals>
  /**
   * Send `signal` and resolve with how the process ended. A process still running `graceMs` later
   * (default 20 s) is killed with SIGKILL, so a stuck stop fails its test instead of hanging it.
   */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<number | NodeJS.Signals>
}

export async function startTessera(args: readonly string[], readyTimeoutMs = 20_000): Promise<TesseraProcess> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const lines: string[] = []
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child)
      resolve(signal ?? code ?? 0)
    })
  })
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => lines.push(l))
  const info = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A process that never became ready must not outlive the test that started it.
      child.kill('SIGKILL')
      reject(new Error(`tessera ${args[0]} not ready in ${readyTimeoutMs} ms:\n${lines.join('\n')}`))
    }, readyTimeoutMs)
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line)
      if (!line.startsWith('{"ready"')) return
      clearTimeout(timer)
      resolve(JSON.parse(line) as Record<string, string>)
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`tessera ${args[0]} exited (${code}) before it was ready:\n${lines.join('\n')}`))
    })
  })
  return {
    child,
    info,
    exited,
    output: () => lines.join('\n'),
    kill: async (signal = 'SIGTERM', graceMs = 20_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const how = await exited
      clearTimeout(timer)
      return how
    },
  }
}
