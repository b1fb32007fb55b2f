/**
 * A tiny typed event emitter. The player library runs in browsers too, so it cannot use Node's
 * `events`; listener errors are caught and reported through `onListenerError` so a bug in game
 * code never breaks the session loop that called it.
 */

export type EventMap = Record<string, unknown>
export type Listener<T> = (payload: T) => void

export class Emitter<E extends EventMap> {
  private readonly listeners: { [K in keyof E]?: Array<Listener<E[K]>> } = {}

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    ;(this.listeners[event] ??= []).push(listener)
    return () => this.off(event, listener)
  }

  /** Adds a listener called at most once. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off()
      listener(payload)
    })
    return off
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    const list = this.listeners[event]
    if (!list) return
    const i = list.indexOf(listener)
    if (i >= 0) list.splice(i, 1)
  }

  /** True when someone listens: lets the caller skip building payloads nobody reads. */
  has<K extends keyof E>(event: K): boolean {
    return (this.listeners[event]?.length ?? 0) > 0
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const list = this.listeners[event]
    if (!list || list.length === 0) return
    // A copy: listeners may remove themselves (once) while we iterate.
    for (const listener of [...list]) {
      try {
        listener(payload)
      } catch (err) {
        this.onListenerError(err)
      }
    }
  }

  removeAll(): void {
    for (const key of Object.keys(this.listeners)) delete this.listeners[key as keyof E]
  }
}
