/**
 * GCRA buckets in PostgreSQL's `rate_limits`, shared by every node (ADR 0008 §5): one
 * statement charges all of a request's buckets; a bucket missing from its result refused,
 * and only then is its tat read, once, for Retry-After. The arithmetic is limiter.ts's.
 */

import { chargeBuckets, pruneBuckets, readBuckets } from "../store/auth-state.ts";
import type { Db } from "../store/db.ts";
import { activeBuckets, chargeOf, IDLE_BUCKET_MS, periodMs } from "./limiter.ts";
import type { BucketSpec, Charge } from "./types.ts";

export interface PgLimiter {
  charge(specs: readonly BucketSpec[], now: number): Promise<Charge>;
  prune(now: number): Promise<void>;
}

export function createPgLimiter(db: Db): PgLimiter {
  return {
    async charge(specs, now) {
      const buckets = activeBuckets(specs);
      if (buckets.length === 0) return chargeOf([], now);
      const charged = await chargeBuckets(
        db,
        buckets.map((b) => {
          const period = periodMs(b.limit);
          return { bucket: b.bucket, tat: now + period, periodMs: period, windowMs: b.limit.windowMs };
        }),
        now,
      );
      const refused = buckets.filter((b) => !charged.has(b.bucket)).map((b) => b.bucket);
      const current = await readBuckets(db, refused);
      const outcomes = buckets.map((bucket) => {
        const tat = charged.get(bucket.bucket);
        if (tat !== undefined) return { bucket, tat, allowed: true };
        // A row pruned between the two statements is a full bucket: retry at once.
        return { bucket, tat: current.get(bucket.bucket) ?? now, allowed: false };
      });
      return chargeOf(outcomes, now);
    },
    async prune(now) {
      await pruneBuckets(db, now - IDLE_BUCKET_MS);
    },
  };
}
