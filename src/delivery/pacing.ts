/**
 * Pacing: a token bucket per key (the recipient domain), so one domain receives at most
 * `ratePerSecond` messages per second from this process, with bursts of up to `burst`.
 *
 * A caller takes a token before it sends. When none is left it reserves the next one (the
 * bucket goes below zero) and waits until that token is due, so waiting callers are spaced
 * evenly in the order they came. A caller that would wait longer than it may takes nothing
 * and is told so; it defers the message instead of holding a worker slot.
 */

export interface RateLimiterOptions {
  /** Tokens added per second; 0 turns the limit off. Fractions are allowed (0.5: one per 2 s). */
  ratePerSecond: number;
  /** Most tokens a bucket holds; default one second's worth, at least 1. */
  burst?: number;
  /** Clock (ms); default Date.now. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before full (idle) ones are dropped. */
const PRUNE_ABOVE = 1024;

export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RateLimiterOptions) {
    if (!Number.isFinite(opts.ratePerSecond) || opts.ratePerSecond < 0) {
      throw new RangeError("ratePerSecond must be a finite number >= 0");
    }
    this.#rate = opts.ratePerSecond;
    this.#burst = Math.max(1, opts.burst ?? opts.ratePerSecond);
    this.#now = opts.now ?? Date.now;
  }

  /** False when the limit is off. */
  get enabled(): boolean {
    return this.#rate > 0;
  }

  /**
   * Takes a token for `key`: the delay (ms, 0 = now) until it is due, or null, taking
   * nothing, when that delay would be longer than `maxWaitMs`.
   */
  reserve(key: string, maxWaitMs: number): number | null {
    if (this.#rate === 0) return 0;
    const now = this.#now();
    const bucket = this.#refill(key, now);
    const delay = bucket.tokens >= 1 ? 0 : Math.ceil(((1 - bucket.tokens) * 1000) / this.#rate);
    if (delay > maxWaitMs) return null;
    bucket.tokens -= 1;
    return delay;
  }

  /** Waits until `key` may send one message; false (nothing taken) if it would wait too long. */
  async take(key: string, maxWaitMs: number): Promise<boolean> {
    const delay = this.reserve(key, maxWaitMs);
    if (delay === null) return false;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    return true;
  }

  #refill(key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= PRUNE_ABOVE) this.#prune(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (elapsed * this.#rate) / 1000);
    bucket.at = now;
    return bucket;
  }

  /** Drops buckets that are full again: they behave exactly like a new one. */
  #prune(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      const tokens = bucket.tokens + ((now - bucket.at) * this.#rate) / 1000;
      if (tokens >= this.#burst) this.#buckets.delete(key);
    }
  }
}
