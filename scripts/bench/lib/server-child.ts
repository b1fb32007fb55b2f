/**
 * The bench process's side of a server running in a child process (so that its CPU is measured
 * alone): typed request/reply over IPC, and a stop that never leaves the child behind.
 */
import type { ChildProcess } from 'node:child_process'

export class ServerChild<ToChild extends { type: string }, FromChild extends { type: string }> {
  private readonly waiters = new Map<string, { resolve: (msg: FromChild) => void; reject: (err: Error) => void }>()

  constructor(
    readonly proc: ChildProcess,
    private readonly stopMessage: ToChild,
  ) {
    proc.on('message', (msg: FromChild) => {
      const waiter = this.waiters.get(msg.type)
      this.waiters.delete(msg.type)
      waiter?.resolve(msg)
    })
    // A child that dies leaves nothing to wait for: every wait ends now, not at its timeout.
    proc.once('exit', (code, signal) => {
      for (const [type, waiter] of this.waiters) waiter.reject(new Error(`server child: exited (${signal ?? code}) before "${type}"`))
      this.waiters.clear()
    })
  }

  next<T extends FromChild['type']>(type: T, timeoutMs = 20_000): Promise<Extract<FromChild, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        reject(new Error(`server child: exited (${this.proc.signalCode ?? this.proc.exitCode}) before "${type}"`))
        return
      }
      const timer = setTimeout(() => {
        this.waiters.delete(type)
        reject(new Error(`server child: no "${type}" within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.set(type, {
        resolve: (msg) => {
          clearTimeout(timer)
          resolve(msg as Extract<FromChild, { type: T }>)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
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
