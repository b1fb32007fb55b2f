/**
 * A reader of server-sent events from a fetch body, enough for `tessera ctl events` and the tests:
 * fields `id`, `event`, `data` (multi-line joined by newlines), and comment lines (heartbeats).
 */

export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string; data: string }
  | { kind: 'comment'; text: string }

/** Yields each event and comment of `body` until the stream ends or the consumer stops. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder()
  const reader = body.getReader()
  let buffer = ''
  let id: string | undefined
  let event = ''
  let data: string[] = []
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let newline: number
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1))
        if (line === '') {
          // A blank line ends an event; one without data (e.g. only `retry:`) is not dispatched.
          if (data.length > 0) yield { kind: 'event', id, event: event || 'message', data: data.join('\n') }
          event = ''
          data = []
          continue
        }
        if (line.startsWith(':')) {
          yield { kind: 'comment', text: line.slice(1).trim() }
          continue
        }
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const raw = colon < 0 ? '' : line.slice(colon + 1)
        const value = raw.startsWith(' ') ? raw.slice(1) : raw
        if (field === 'id') id = value
        else if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
    }
  } finally {
    // Stopping early (break, error, --limit) must release the connection.
    await reader.cancel().catch(() => {})
  }
}
