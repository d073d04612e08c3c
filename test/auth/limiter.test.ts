/**
 * Rate limits by GCRA (ADR 0008 §5) on the suite's store (in memory on SQLite, the
 * `rate_limits` table on PostgreSQL), on a fake clock: a burst of q then a refusal, one
 * more request per T, the header numbers, key and org buckets together, `off`, pruning.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import { createMemoryLimiter } from "../../src/auth/limiter.ts";
import type { Admission, BucketSpec } from "../../src/auth/types.ts";
import { ManualClock } from "../../src/core/clock.ts";
import type { RateLimit } from "../../src/core/rate-limit.ts";
import type { Db } from "../../src/store/db.ts";
import { freshDatabase } from "./db.ts";

async function setup(t: TestContext): Promise<{ admission: Admission; db: Db; clock: ManualClock }> {
  const db = (await freshDatabase(t))();
  const admission = createAdmission({
    db,
    maxFailures: 10,
    failureWindowMs: 600_000,
    lockoutMs: 900_000,
    exempt: [],
  });
  return { admission, db, clock: new ManualClock() };
}

function perSecond(quota: number): RateLimit {
  return { quota, windowMs: 1000 };
}

function key(id: string, limit: RateLimit): BucketSpec {
  return { name: "key", bucket: `k:${id}`, limit };
}

function org(id: string, limit: RateLimit): BucketSpec {
  return { name: "org", bucket: `o:${id}`, limit };
}

test("a burst of q passes, the next is refused until T has passed", async (t) => {
  const { admission, clock } = await setup(t);
  const spec = [key("a", perSecond(5))];
  for (let i = 1; i <= 5; i++) {
    const c = await admission.charge(spec, clock.now());
    assert.equal(c.allowed, true, `request ${i} of the burst`);
    assert.deepEqual(c.buckets, [
      { name: "key", quota: 5, windowMs: 1000, remaining: 5 - i, resetMs: 200 * i },
    ]);
  }
  const refused = await admission.charge(spec, clock.now());
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterMs, 200, "T = w/q = 200 ms");
  assert.deepEqual(refused.buckets, [{ name: "key", quota: 5, windowMs: 1000, remaining: 0, resetMs: 1000 }]);

  clock.advance(199);
  const early = await admission.charge(spec, clock.now());
  assert.equal(early.allowed, false, "a refusal does not charge, and T has not passed");
  assert.equal(early.retryAfterMs, 1);
  clock.advance(1);
  const refilled = await admission.charge(spec, clock.now());
  assert.equal(refilled.allowed, true, "one request per T");
  assert.equal(refilled.buckets[0]?.remaining, 0);
  assert.equal(refilled.buckets[0]?.resetMs, 1000);
  assert.equal((await admission.charge(spec, clock.now())).allowed, false);

  clock.advance(1000);
  const full = await admission.charge(spec, clock.now());
  assert.equal(full.allowed, true);
  assert.equal(full.buckets[0]?.remaining, 4, "a bucket idle for w is full again");
});

test("a period that is not a whole number of ms keeps the burst at exactly q", async (t) => {
  const { admission, clock } = await setup(t);
  const spec = [key("a", perSecond(3))];
  for (let i = 1; i <= 3; i++) {
    const c = await admission.charge(spec, clock.now());
    assert.equal(c.allowed, true, `request ${i} of the burst`);
    assert.equal(c.buckets[0]?.remaining, 3 - i);
  }
  const refused = await admission.charge(spec, clock.now());
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterMs, 334, "T = 1000/3 ms, rounded up to whole ms");
  clock.advance(333);
  assert.equal((await admission.charge(spec, clock.now())).allowed, false);
  clock.advance(1);
  assert.equal((await admission.charge(spec, clock.now())).allowed, true);
  // Offered 10 per second for a minute, it admits exactly 3 per second.
  let allowed = 0;
  for (let step = 0; step < 600; step++) {
    clock.advance(100);
    if ((await admission.charge(spec, clock.now())).allowed) allowed += 1;
  }
  assert.equal(allowed, 180);
});

test("key and org buckets are charged together; a refusal by one keeps the other's charge", async (t) => {
  const { admission, clock } = await setup(t);
  const now = clock.now();
  const a = [key("a", perSecond(100)), org("o1", perSecond(3))];
  for (let i = 0; i < 3; i++) assert.equal((await admission.charge(a, now)).allowed, true);
  const refused = await admission.charge(a, now);
  assert.equal(refused.allowed, false, "the org's quota is spent");
  assert.deepEqual(
    refused.buckets.map((b) => [b.name, b.remaining]),
    [
      ["key", 96],
      ["org", 0],
    ],
    "the key bucket stays charged (ADR 0008 §5), in the order asked",
  );
  assert.equal(refused.retryAfterMs, 334, "from the org bucket");

  const b = [key("b", perSecond(100)), org("o1", perSecond(3))];
  const other = await admission.charge(b, now);
  assert.equal(other.allowed, false, "another key of the same org");
  assert.equal(other.buckets[0]?.remaining, 99);
  const otherOrg = await admission.charge([key("c", perSecond(100)), org("o2", perSecond(3))], now);
  assert.equal(otherOrg.allowed, true, "another org is unaffected");
});

test("an `off` bucket is neither charged nor reported", async (t) => {
  const { admission, clock } = await setup(t);
  const now = clock.now();
  const spec = [key("a", "off"), org("o1", perSecond(2))];
  const c = await admission.charge(spec, now);
  assert.equal(c.allowed, true);
  assert.deepEqual(
    c.buckets.map((s) => s.name),
    ["org"],
  );
  await admission.charge(spec, now);
  assert.equal((await admission.charge(spec, now)).allowed, false);

  const off = [key("a", "off"), org("o1", "off")];
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(await admission.charge(off, now), { allowed: true, buckets: [], retryAfterMs: 0 });
  }
});

test("prune drops buckets idle for an hour, which are full again anyway", async (t) => {
  const { admission, db, clock } = await setup(t);
  const spec = (id: string) => [key(id, perSecond(5))];
  await admission.charge(spec("idle"), clock.now());
  clock.advance(1_800_000);
  await admission.charge(spec("busy"), clock.now());
  clock.advance(1_800_201);
  await admission.prune(clock.now());
  if (db.dialect === "postgres") {
    const rows = await db.kysely.selectFrom("rate_limits").select("bucket").execute();
    assert.deepEqual(
      rows.map((r) => r.bucket),
      ["k:busy"],
    );
  }
  const again = await admission.charge(spec("idle"), clock.now());
  assert.equal(again.buckets[0]?.remaining, 4);

  // The in-memory buckets of SQLite, counted directly.
  const memory = createMemoryLimiter();
  const start = clock.now();
  memory.charge(spec("idle"), start);
  memory.charge(spec("busy"), start + 1_800_000);
  memory.prune(start + 3_600_201);
  assert.equal(memory.size, 1);
  memory.prune(start + 5_400_201);
  assert.equal(memory.size, 0);
});
