/**
 * Byte-aligned reading and writing for the small datagrams (inputs, acks, pings, control frames).
 * The reader never throws and never reads out of bounds: a short read sets `failed` and returns 0,
 * and the decoder checks `failed` once at the end (or before trusting a length).
 */

/** Largest value a varint may carry: unsigned 32 bits. */
const MAX_VARINT_BYTES = 5

export class ByteWriter {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  /** @param capacity initial size in bytes; grows by doubling (default 256). */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
  }

  get length(): number {
    return this.pos
  }

  reset(): this {
    this.pos = 0
    return this
  }

  private ensure(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): this {
    this.ensure(1)
    this.buf[this.pos++] = v & 0xff
    return this
  }

  i8(v: number): this {
    return this.u8(v < 0 ? v + 256 : v)
  }

  u16(v: number): this {
    this.ensure(2)
    this.view.setUint16(this.pos, v, true)
    this.pos += 2
    return this
  }

  u32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.pos, v >>> 0, true)
    this.pos += 4
    return this
  }

  f64(v: number): this {
    this.ensure(8)
    this.view.setFloat64(this.pos, v, true)
    this.pos += 8
    return this
  }

  /** Unsigned LEB128, 0 ≤ v < 2^32. */
  varint(v: number): this {
    this.ensure(MAX_VARINT_BYTES)
    let x = v >>> 0
    while (x >= 0x80) {
      this.buf[this.pos++] = (x & 0x7f) | 0x80
      x >>>= 7
    }
    this.buf[this.pos++] = x
    return this
  }

  bytes(src: Uint8Array): this {
    this.ensure(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
    return this
  }

  /** A copy of what was written: safe to keep or hand to a transport. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

export class ByteReader {
  private pos: number
  /**
   * Made on the first multi-byte read only: most datagrams (inputs, acks, snapshot headers) are
   * bytes and varints, read from `buf` directly, and a reader is made per datagram.
   */
  private dataView: DataView | undefined
  /** Set by the first read past the end or malformed varint; later reads return 0. */
  failed = false

  constructor(
    private readonly buf: Uint8Array,
    offset = 0,
  ) {
    this.pos = offset
  }

  private get view(): DataView {
    const b = this.buf
    this.dataView ??= new DataView(b.buffer, b.byteOffset, b.byteLength)
    return this.dataView
  }

  get offset(): number {
    return this.pos
  }

  get remaining(): number {
    return this.buf.length - this.pos
  }

  private take(n: number): boolean {
    if (this.failed || this.pos + n > this.buf.length) {
      this.failed = true
      return false
    }
    return true
  }

  u8(): number {
    if (!this.take(1)) return 0
    return this.buf[this.pos++] as number
  }

  i8(): number {
    if (!this.take(1)) return 0
    const b = this.buf[this.pos++] as number
    return b > 0x7f ? b - 0x100 : b
  }

  u16(): number {
    if (!this.take(2)) return 0
    const v = this.view.getUint16(this.pos, true)
    this.pos += 2
    return v
  }

  u32(): number {
    if (!this.take(4)) return 0
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }

  f64(): number {
    if (!this.take(8)) return 0
    const v = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return v
  }

  /** Unsigned LEB128 up to 32 bits; longer or overflowing encodings fail. */
  varint(): number {
    let result = 0
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (!this.take(1)) return 0
      const b = this.buf[this.pos++] as number
      if (i === 4 && b > 0x0f) break
      result += (b & 0x7f) * 2 ** (7 * i)
      if (b < 0x80) return result
    }
    this.failed = true
    return 0
  }

  /** A view (no copy) of the next `n` bytes; fails rather than allocating when `n` exceeds what is left. */
  bytes(n: number): Uint8Array {
    if (n < 0 || !this.take(n)) return new Uint8Array(0)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}
