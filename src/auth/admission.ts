/**
 * Admission (ADR 0008 §5–6): lockout, rate limits and HMAC nonces behind one interface,
 * shared by every node. On PostgreSQL all three live in tables; on SQLite the counters
 * live in memory (one process owns the store, ADR 0001) and only nonces, which must
 * survive a restart, are in a table.
 */
import type { Cidr } from "../core/cidr.ts";
import type { Clock } from "../core/clock.ts";
import type { Db } from "../store/db.ts";
import { createMemoryLimiter } from "./limiter.ts";
import { createPgLimiter } from "./limiter-pg.ts";
import { createLockout, memoryFailures, pgFailures } from "./lockout.ts";
import { createNonces } from "./nonces.ts";
import type { Admission } from "./types.ts";

export interface AdmissionDeps {
  readonly db: Db;
  readonly maxFailures: number;
  readonly failureWindowMs: number;
  readonly lockoutMs: number;
  /** Addresses never counted or locked (SEALPOST_AUTH_LOCKOUT_EXEMPT). */
  readonly exempt: readonly Cidr[];
}

/** How often each node prunes expired nonces, idle buckets and stale failure rows. */
export const PRUNE_INTERVAL_MS = 60_000;

export function createAdmission(deps: AdmissionDeps): Admission {
  const { db } = deps;
  const policy = {
    maxFailures: deps.maxFailures,
    failureWindowMs: deps.failureWindowMs,
    lockoutMs: deps.lockoutMs,
  };
  const onPg = db.dialect === "postgres";
  const lockout = createLockout(onPg ? pgFailures(db, policy) : memoryFailures(policy), deps.exempt);
  const nonces = createNonces(db);
  const limiter = onPg ? createPgLimiter(db) : createMemoryLimiter();
  return {
    lockedUntil: (source, now) => lockout.lockedUntil(source, now),
    recordFailure: (source, now) => lockout.recordFailure(source, now),
    charge: async (buckets, now) => limiter.charge(buckets, now),
    claimNonce: (keyId, nonce, expiresAt) => nonces.claim(keyId, nonce, expiresAt),
    async prune(now) {
      await Promise.all([lockout.prune(now), nonces.prune(now), limiter.prune(now)]);
    },
  };
}

/**
 * Prunes every minute on an unref'd timer (it never keeps the process alive). A failed
 * prune is left for the next minute: the rows only take space, and the counters stay
 * correct without pruning. Returns a function that stops it.
 */
export function startAdmissionPruning(admission: Admission, clock: Clock): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    admission
      .prune(clock.now())
      .catch(() => {})
      .finally(() => {
        running = false;
      });
  }, PRUNE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
