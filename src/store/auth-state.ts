/**
 * The admission state shared by every node (ADR 0008 §3, §5, §6): used HMAC nonces
 * (`auth_nonces`, both stores) and, on PostgreSQL only, rate-limit buckets (`rate_limits`)
 * and failed authentications per source (`auth_failures`), both UNLOGGED. None of these
 * tables belongs to an org, so this file takes a plain Db (on the allow-list of
 * scoped-queries). Every time comes from the caller's injected clock, never from the
 * database's, so nodes and tests agree on `now`.
 */
import { sql } from "kysely";
import type { Db } from "./db.ts";

/** A bucket charged by `chargeBuckets`: T and w in ms; `tat` is a new bucket's first tat (now + T). */
export interface BucketCharge {
  readonly bucket: string;
  readonly tat: number;
  readonly periodMs: number;
  readonly windowMs: number;
}

/**
 * Charges every bucket in one statement (GCRA, see auth/limiter.ts). The row of a bucket
 * that would pass its window is left alone, so it is missing from the result: the result
 * maps each bucket that allowed to its new tat.
 */
export async function chargeBuckets(
  db: Db,
  charges: readonly BucketCharge[],
  now: number,
): Promise<Map<string, number>> {
  // Rows are locked in bucket order, so two requests never wait on each other in a cycle.
  const ordered = [...charges].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  const values = sql.join(
    ordered.map((c) => sql`(${c.bucket}, ${c.tat}::float8, ${c.periodMs}::float8, ${c.windowMs}::bigint)`),
  );
  const at = sql`${now}::float8`;
  const { rows } = await sql<{ bucket: string; tat: number }>`
    insert into rate_limits as r (bucket, tat, period_ms, window_ms) values ${values}
    on conflict (bucket) do update
      set tat = greatest(r.tat, ${at}) + excluded.period_ms,
          period_ms = excluded.period_ms,
          window_ms = excluded.window_ms
      where greatest(r.tat, ${at}) + excluded.period_ms - ${at} <= excluded.window_ms
    returning bucket, tat`.execute(db.kysely);
  return new Map(rows.map((r) => [r.bucket, Number(r.tat)]));
}

/** The tat of each bucket that has a row. */
export async function readBuckets(db: Db, buckets: readonly string[]): Promise<Map<string, number>> {
  if (buckets.length === 0) return new Map();
  const rows = await db.kysely
    .selectFrom("rate_limits")
    .select(["bucket", "tat"])
    .where("bucket", "in", [...buckets])
    .execute();
  return new Map(rows.map((r) => [r.bucket, Number(r.tat)]));
}

/** Drops buckets whose tat is before `before`: they are full again. */
export async function pruneBuckets(db: Db, before: number): Promise<void> {
  await db.kysely.deleteFrom("rate_limits").where("tat", "<", before).execute();
}

export interface LockoutPolicy {
  readonly maxFailures: number;
  readonly failureWindowMs: number;
  readonly lockoutMs: number;
}

export interface FailureCount {
  readonly failures: number;
  /** The lock in force after this failure, if any. */
  readonly lockedUntil: number | null;
}

/**
 * Counts one failure of `source` in one upsert, by the rule of auth/lockout.ts
 * (`afterFailure`): a row whose lock or (unlocked) window has passed starts again at 1;
 * reaching maxFailures locks until now + lockoutMs; a lock in force is kept as it is.
 */
export async function recordFailureRow(
  db: Db,
  source: string,
  now: number,
  policy: LockoutPolicy,
): Promise<FailureCount> {
  const at = sql`${now}::bigint`;
  const lock = sql`${now + policy.lockoutMs}::bigint`;
  const firstLock = policy.maxFailures <= 1 ? lock : sql`null::bigint`;
  // The same test as `restarts` in auth/lockout.ts; in SET, `f.*` are the old values.
  const restarts = sql`(case when f.locked_until is not null then f.locked_until <= ${at}
    else f.window_start <= ${now - policy.failureWindowMs}::bigint end)`;
  const failures = sql`(case when ${restarts} then 1 else f.failures + 1 end)`;
  const { rows } = await sql<{ failures: number; locked_until: number | null }>`
    insert into auth_failures as f (source, window_start, failures, locked_until)
    values (${source}, ${at}, 1, ${firstLock})
    on conflict (source) do update
      set window_start = case when ${restarts} then ${at} else f.window_start end,
          failures = ${failures},
          locked_until = case
            when f.locked_until > ${at} then f.locked_until
            when ${failures} >= ${policy.maxFailures}::int then ${lock}
            else null end
    returning failures, locked_until`.execute(db.kysely);
  const row = rows[0];
  if (row === undefined) throw new Error("auth_failures upsert returned no row");
  const until = row.locked_until === null ? null : Number(row.locked_until);
  return { failures: Number(row.failures), lockedUntil: until !== null && until > now ? until : null };
}

/** The recorded lock of `source` (possibly past); null when there is none. */
export async function readLock(db: Db, source: string): Promise<number | null> {
  const row = await db.kysely
    .selectFrom("auth_failures")
    .select("locked_until")
    .where("source", "=", source)
    .executeTakeFirst();
  return row?.locked_until == null ? null : Number(row.locked_until);
}

/** Drops failure rows a new failure would start again: their lock, or their unlocked window, has passed. */
export async function pruneFailures(db: Db, now: number, failureWindowMs: number): Promise<void> {
  await db.kysely
    .deleteFrom("auth_failures")
    .where((eb) =>
      eb.or([
        eb("locked_until", "<=", now),
        eb.and([eb("locked_until", "is", null), eb("window_start", "<=", now - failureWindowMs)]),
      ]),
    )
    .execute();
}

/** Records a used nonce; false when the key already used it (zero rows inserted: a replay). */
export async function insertNonce(db: Db, keyId: string, nonce: string, expiresAt: number): Promise<boolean> {
  const result = await db.kysely
    .insertInto("auth_nonces")
    .values({ key_id: keyId, nonce, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(["key_id", "nonce"]).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Drops nonces whose signature window has passed: a replay of them fails on its timestamp. */
export async function pruneNonces(db: Db, now: number): Promise<void> {
  await db.kysely.deleteFrom("auth_nonces").where("expires_at", "<", now).execute();
}
