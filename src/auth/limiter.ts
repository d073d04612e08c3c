/**
 * Rate limits by GCRA (ADR 0008 §5): a bucket with quota q per window w admits one request
 * every T = w/q and bursts of up to q. Its whole state is one number, the theoretical
 * arrival time `tat`: a request at `now` is allowed when max(tat, now) + T − now ≤ w, and
 * then tat becomes max(tat, now) + T. This file holds that arithmetic and the in-memory
 * buckets used on SQLite; limiter-pg.ts runs the same arithmetic in one PostgreSQL statement.
 */
import type { RateLimit } from "../core/rate-limit.ts";
import type { BucketSpec, BucketState, Charge } from "./types.ts";

/** Buckets idle this long are full again and can be forgotten. */
export const IDLE_BUCKET_MS = 3_600_000;

/**
 * T is kept on a grid of 1/1024 ms. Epoch milliseconds plus multiples of 2^-10 are exact
 * doubles (until the year 2248), so repeated additions never drift and the q-th request
 * of a burst is never refused by a rounding error; memory and PostgreSQL (float8) then
 * compute bit-identical times. Rounding T down keeps the burst at q and makes the rate at
 * most one part in T·1024 too high: under 0.1 % for limits up to 1000/s. The smallest T,
 * 2^-10 ms, caps a bucket at about a million requests per second.
 */
const TICKS_PER_MS = 1024;

/** A bucket's limit with `off` taken out. */
export type ActiveLimit = Exclude<RateLimit, "off">;

export interface ActiveBucket {
  readonly name: BucketSpec["name"];
  readonly bucket: string;
  readonly limit: ActiveLimit;
}

/** The emission interval T of a limit, in ms (on the 1/1024 ms grid). */
export function periodMs(limit: ActiveLimit): number {
  const ticks = Math.floor((limit.windowMs * TICKS_PER_MS) / limit.quota);
  return Math.max(1, ticks) / TICKS_PER_MS;
}

/** The buckets that have a limit, in the caller's order. */
export function activeBuckets(specs: readonly BucketSpec[]): ActiveBucket[] {
  const active: ActiveBucket[] = [];
  const seen = new Set<string>();
  for (const s of specs) {
    if (s.limit === "off") continue;
    // One statement cannot update a row twice, and a request has one bucket of each kind.
    if (seen.has(s.bucket)) throw new Error("a bucket was charged twice");
    seen.add(s.bucket);
    active.push({ name: s.name, bucket: s.bucket, limit: s.limit });
  }
  return active;
}

/** One GCRA step: the new tat when the request is allowed, else null. `tat` is undefined for a new bucket. */
export function gcraStep(tat: number | undefined, now: number, limit: ActiveLimit): number | null {
  const next = Math.max(tat ?? now, now) + periodMs(limit);
  return next - now <= limit.windowMs ? next : null;
}

/** Header numbers of a bucket whose tat is `tat` (after this request's charge, if any). */
export function bucketState(b: ActiveBucket, tat: number, now: number): BucketState {
  const period = periodMs(b.limit);
  const ahead = Math.max(0, tat - now);
  // Counted in whole ticks, so the floor is an exact integer division.
  const spare = Math.max(0, Math.round((b.limit.windowMs - ahead) * TICKS_PER_MS));
  const tick = Math.round(period * TICKS_PER_MS);
  return {
    name: b.name,
    quota: b.limit.quota,
    windowMs: b.limit.windowMs,
    remaining: (spare - (spare % tick)) / tick,
    resetMs: Math.ceil(ahead),
  };
}

/** Milliseconds until a refused bucket admits a request again (at least 1). */
export function retryAfterMs(b: ActiveBucket, tat: number, now: number): number {
  return Math.max(1, Math.ceil(tat + periodMs(b.limit) - b.limit.windowMs - now));
}

/** One bucket after a charge: its tat, and whether it allowed the request. */
export interface BucketOutcome {
  readonly bucket: ActiveBucket;
  readonly tat: number;
  readonly allowed: boolean;
}

/** The Charge of a request. A bucket that allowed stays charged even when another refused (ADR 0008 §5). */
export function chargeOf(outcomes: readonly BucketOutcome[], now: number): Charge {
  let retry = 0;
  for (const o of outcomes) if (!o.allowed) retry = Math.max(retry, retryAfterMs(o.bucket, o.tat, now));
  return {
    allowed: outcomes.every((o) => o.allowed),
    buckets: outcomes.map((o) => bucketState(o.bucket, o.tat, now)),
    retryAfterMs: retry,
  };
}

export interface MemoryLimiter {
  charge(specs: readonly BucketSpec[], now: number): Charge;
  /** Forgets buckets idle for an hour (they are full again). */
  prune(now: number): void;
  /** Buckets held, for tests of pruning. */
  readonly size: number;
}

/** GCRA over a Map: exact, because on SQLite one process owns the store (ADR 0001). */
export function createMemoryLimiter(): MemoryLimiter {
  const tats = new Map<string, number>();
  return {
    charge(specs, now) {
      const outcomes = activeBuckets(specs).map((bucket) => {
        const before = tats.get(bucket.bucket);
        const next = gcraStep(before, now, bucket.limit);
        if (next === null) return { bucket, tat: before ?? now, allowed: false };
        tats.set(bucket.bucket, next);
        return { bucket, tat: next, allowed: true };
      });
      return chargeOf(outcomes, now);
    },
    prune(now) {
      for (const [bucket, tat] of tats) if (tat < now - IDLE_BUCKET_MS) tats.delete(bucket);
    },
    get size() {
      return tats.size;
    },
  };
}
