/**
 * Bit-level packing for snapshots, where most fields are small numbers (a position moved a few
 * sixteenths, an index gap of 0). Numbers use Exp-Golomb codes: order k spends 1 + k bits on values
 * below 2^k and two more bits per doubling above it, so small values are cheap and nothing has a
 * fixed ceiling below 2^30.
 *
 * Bits are written most significant first. The reader never throws and never reads past its end:
 * a short read sets `failed` and returns 0.
 */

/** Largest value an Exp-Golomb field may carry (exclusive); keeps all arithmetic in 31 bits. */
export const MAX_UE = 2 ** 30

export class BitWriter {
  private buf: Uint8Array
  private bytePos = 0
  private acc = 0
  private accBits = 0

  /** @param capacity initial size in bytes; grows by doubling (default 4096). */
  constructor(capacity = 4096) {
    this.buf = new Uint8Array(capacity)
  }

  /** Byte offset where the next aligned message starts. */
  get byteLength(): number {
    return this.bytePos + Math.ceil(this.accBits / 8)
  }

  /** Forget everything written. Views handed out before stay valid only until they are overwritten. */
  reset(): void {
    this.bytePos = 0
    this.acc = 0
    this.accBits = 0
  }

  private ensure(extra: number): void {
    const need = this.bytePos + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    // Earlier views keep pointing at the old buffer, which is why growing never corrupts them.
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.bytePos))
    this.buf = next
  }

  /** Write the low `n` bits of `value` (0 ≤ n ≤ 24). */
  bits(value: number, n: number): void {
    if (n === 0) return
    this.acc = (this.acc << n) | (value & ((1 << n) - 1))
    this.accBits += n
    if (this.accBits >= 8) {
      this.ensure(4)
      while (this.accBits >= 8) {
        this.accBits -= 8
        this.buf[this.bytePos++] = (this.acc >>> this.accBits) & 0xff
      }
      this.acc &= (1 << this.accBits) - 1
    }
  }

  bit(b: boolean): void {
    this.bits(b ? 1 : 0, 1)
  }

  /** Unsigned Exp-Golomb of order `k`, 0 ≤ v < 2^30. */
  ue(v: number, k: number): void {
    const w = v + (1 << k)
    const n = 32 - Math.clz32(w)
    // Common case: the leading zeros and w fit one write (w written wider is w preceded by zeros).
    if (2 * n - 1 - k <= 24) {
      this.bits(w, 2 * n - 1 - k)
      return
    }
    let zeros = n - 1 - k
    while (zeros > 24) {
      this.bits(0, 24)
      zeros -= 24
    }
    this.bits(0, zeros)
    if (n > 24) {
      this.bits(w >>> 16, n - 16)
      this.bits(w & 0xffff, 16)
    } else {
      this.bits(w, n)
    }
  }

  /** Signed Exp-Golomb (zigzag), |v| < 2^29. */
  se(v: number, k: number): void {
    this.ue(v >= 0 ? v * 2 : -v * 2 - 1, k)
  }

  /** Pad to a byte boundary and return a view of the bytes from `start`: valid until `reset`. */
  finish(start: number): Uint8Array {
    if (this.accBits > 0) this.bits(0, 8 - this.accBits)
    return this.buf.subarray(start, this.bytePos)
  }
}

export class BitReader {
  private pos: number
  private readonly end: number
  failed = false

  /** Reads bits from `buf`, starting at byte `offset`. */
  constructor(
    private readonly buf: Uint8Array,
    offset = 0,
  ) {
    this.pos = offset * 8
    this.end = buf.length * 8
  }

  /** Bits not yet read. */
  get remainingBits(): number {
    return this.end - this.pos
  }

  /** Read `n` bits (0 ≤ n ≤ 30) as an unsigned number. */
  bits(n: number): number {
    if (this.failed || this.pos + n > this.end) {
      this.failed = true
      return 0
    }
    let v = 0
    let pos = this.pos
    let left = n
    while (left > 0) {
      const byte = this.buf[pos >>> 3] ?? 0
      const avail = 8 - (pos & 7)
      const take = avail < left ? avail : left
      v = v * (1 << take) + ((byte >>> (avail - take)) & ((1 << take) - 1))
      pos += take
      left -= take
    }
    this.pos = pos
    return v
  }

  bit(): boolean {
    return this.bits(1) === 1
  }

  ue(k: number): number {
    let zeros = 0
    while (!this.failed && this.bits(1) === 0) {
      zeros++
      if (zeros + k > 30) {
        this.failed = true
        return 0
      }
    }
    if (this.failed) return 0
    // The leading 1 was consumed above; read the rest of w.
    const rest = this.bits(zeros + k)
    return (2 ** (zeros + k) + rest) - (1 << k)
  }

  se(k: number): number {
    const u = this.ue(k)
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2
  }
}
