/**
 * The bench process's side of a server running in a child process (so that its CPU is measured
 * alone): typed request/reply over IPC, and a stop that never leaves the child behind.
 */
import type { ChildProcess } from 'node:child_process'

export class ServerChild<ToChild extends { type: string }, FromChild extends { type: string }> {
  private readonly waiters = new Map<string, (msg: FromChild) => void>()

  constructor(
    readonly proc: ChildProcess,
    private readonly stopMessage: ToChild,
  ) {
    proc.on('message', (msg: FromChild) => {
      const waiter = this.waiters.get(msg.type)
      this.waiters.delete(msg.type)
      waiter?.(msg)
    })
  }

  next<T extends FromChild['type']>(type: T, timeoutMs = 20_000): Promise<Extract<FromChild, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server child: no "${type}" within ${timeoutMs} ms`)), timeoutMs)
      this.waiters.set(type, (msg) => {
        clearTimeout(timer)
        resolve(msg as Extract<FromChild, { type: T }>)
      })
    })
  }

  async ask<T extends FromChild['type']>(msg: ToChild, reply: T, timeoutMs?: number): Promise<Extract<FromChild, { type: T }>> {
    const answer = this.next(reply, timeoutMs)
    this.proc.send(msg)
    return answer
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()))
    this.proc.send(this.stopMessage)
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}
