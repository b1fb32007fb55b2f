/**
 * Reading one side of a control stream in a test: the messages a run of control frames carries
 * (each frame without its datagram's opcode), in the order the other side would deliver them,
 * resent ones once.
 */
import { decodeControlMessage } from '../../core/wire/control-messages.ts'
import type { ControlMessage } from '../../core/wire/control-messages.ts'
import { ControlStream } from '../../core/wire/control-stream.ts'
import { isDecodeError } from '../../core/wire/errors.ts'

export function controlMessagesOf(frames: Iterable<Uint8Array>): ControlMessage[] {
  const stream = new ControlStream()
  // The frames acknowledge what their sender received, and a stream refuses acknowledgements of
  // messages it never sent: the reader is primed as though it had sent its whole backlog.
  while (stream.send(new Uint8Array(0))) {
    // primed
  }
  const out: ControlMessage[] = []
  for (const frame of frames) {
    const payloads = stream.receive(frame)
    if (isDecodeError(payloads)) continue
    for (const p of payloads) {
      const m = decodeControlMessage(p)
      if (!isDecodeError(m)) out.push(m)
    }
  }
  return out
}
