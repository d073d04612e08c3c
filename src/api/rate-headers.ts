import type { FastifyReply } from "fastify";
import type { BucketState, Charge } from "../auth/types.ts";

/**
 * The rate-limit headers of draft-ietf-httpapi-ratelimit-headers (ADR 0008 §5), one item
 * per charged bucket:
 *
 *   RateLimit-Policy: "key";q=100;w=1, "org";q=500;w=1
 *   RateLimit: "key";r=99;t=1, "org";r=499;t=1
 *
 * and, on a refusal, `Retry-After` in whole seconds, at least 1.
 */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

export function rateLimitPolicy(buckets: readonly BucketState[]): string {
  return buckets.map((b) => `"${b.name}";q=${b.quota};w=${seconds(b.windowMs)}`).join(", ");
}

export function rateLimitState(buckets: readonly BucketState[]): string {
  return buckets.map((b) => `"${b.name}";r=${Math.max(0, b.remaining)};t=${seconds(b.resetMs)}`).join(", ");
}

export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Sets the headers of a charge on the reply; nothing when every bucket is `off`. */
export function setRateLimitHeaders(reply: FastifyReply, charge: Charge): void {
  if (charge.buckets.length > 0) {
    reply.header("RateLimit-Policy", rateLimitPolicy(charge.buckets));
    reply.header("RateLimit", rateLimitState(charge.buckets));
  }
  if (!charge.allowed) reply.header("Retry-After", String(retryAfterSeconds(charge.retryAfterMs)));
}
