/**
 * Decoders never throw: they return a value or a `DecodeError`. It is a plain class, not an `Error`,
 * so a flood of garbage datagrams costs no stack captures.
 */
export type DecodeErrorCode =
  /** The bytes ended before the message did. */
  | 'truncated'
  /** Unknown or wrong-direction first byte. */
  | 'bad_opcode'
  /** A field is outside its allowed range (count, length, coordinate…). */
  | 'out_of_range'
  /** A length or count field announces more than the limits allow. */
  | 'too_large'
  /** A variable-length integer is longer than any valid one. */
  | 'bad_varint'
  /** Bytes left over after a complete message. */
  | 'trailing_bytes'
  /** A delta snapshot refers to a baseline the receiver does not hold. */
  | 'unknown_baseline'
  /** Structurally valid bytes with invalid content (bad JSON, schema mismatch, wrong order…). */
  | 'invalid'

export class DecodeError {
  readonly kind = 'decode-error' as const
  constructor(
    readonly code: DecodeErrorCode,
    readonly detail: string,
  ) {}

  toString(): string {
    return `DecodeError(${this.code}): ${this.detail}`
  }
}

export function isDecodeError(value: unknown): value is DecodeError {
  return value instanceof DecodeError
}
