/**
 * Per-client input limits: a token bucket for the message rate and a windowed count of violations
 * (oversized, malformed or over-rate messages) that decides when a client is abusive. Pure: the
 * caller passes the monotonic time in milliseconds.
 */

export interface ClientLimits {
  /** Largest accepted incoming message in bytes; larger ones are dropped. Default 1200 (one datagram). */
  maxMessageBytes: number
  /** Sustained incoming messages per second (transport pings count). Default 60. */
  maxMessagesPerSecond: number
  /** Messages a client may send in a burst above the sustained rate. Default 60. */
  burst: number
  /** Violations within `violationWindowMs` after which the client is disconnected. Default 50. */
  maxViolations: number
  /** Window over which violations are counted. Default 5000 ms. */
  violationWindowMs: number
}

export const defaultClientLimits: Readonly<ClientLimits> = {
  maxMessageBytes: 1200,
  maxMessagesPerSecond: 60,
  burst: 60,
  maxViolations: 50,
  violationWindowMs: 5000,
}

/** Validates and completes partial limits; throws a RangeError naming the bad field. */
export function resolveLimits(partial: Partial<ClientLimits> = {}): ClientLimits {
  const limits = { ...defaultClientLimits, ...partial }
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`limits.${key} must be a positive number, got ${value}`)
  }
  return limits
}

export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity
    this.last = now
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last)
    this.last = now
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

export class ViolationCounter {
  private count = 0
  private windowStart: number

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    now: number,
  ) {
    this.windowStart = now
  }

  /** Records one violation; true when the client has now crossed the limit. */
  add(now: number): boolean {
    if (now - this.windowStart > this.windowMs) {
      this.windowStart = now
      this.count = 0
    }
    this.count++
    return this.count >= this.max
  }
}
