/**
 * Brute-force defence (ADR 0008 §6) on the suite's store (in memory on SQLite, the
 * `auth_failures` table on PostgreSQL), on a fake clock: the lock after N failures, the
 * delays before it, exempt CIDRs, IPv6 grouped by /64, expiry of the window and the lock,
 * and pruning.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import { failureDelayMs, lockoutSource, memoryFailures } from "../../src/auth/lockout.ts";
import type { Admission } from "../../src/auth/types.ts";
import { type Cidr, parseCidr } from "../../src/core/cidr.ts";
import { ManualClock } from "../../src/core/clock.ts";
import type { Db } from "../../src/store/db.ts";
import { freshDatabase } from "./db.ts";

const MAX = 5;
const WINDOW_MS = 600_000;
const LOCKOUT_MS = 900_000;

function cidrs(...raw: string[]): Cidr[] {
  return raw.map((r) => {
    const c = parseCidr(r);
    assert.ok(c !== null, r);
    return c;
  });
}

async function setup(
  t: TestContext,
  opts: { maxFailures?: number; exempt?: Cidr[] } = {},
): Promise<{ admission: Admission; db: Db; clock: ManualClock }> {
  const db = (await freshDatabase(t))();
  const admission = createAdmission({
    db,
    maxFailures: opts.maxFailures ?? MAX,
    failureWindowMs: WINDOW_MS,
    lockoutMs: LOCKOUT_MS,
    exempt: opts.exempt ?? [],
  });
  return { admission, db, clock: new ManualClock() };
}

/** Records `n` failures of `address` at the clock's time; returns the last result. */
async function fail(admission: Admission, address: string, now: number, n = 1) {
  let last = { failures: 0, lockedUntil: null as number | null };
  for (let i = 0; i < n; i++) last = await admission.recordFailure(address, now);
  return last;
}

test("failure delays: none for three, then 100 ms doubling up to 3 s", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50].map(failureDelayMs),
    [0, 0, 0, 0, 100, 200, 400, 800, 1600, 3000, 3000, 3000],
  );
});

test("sources: an IPv4 address, or the /64 of an IPv6 address", () => {
  const cases: [string, string][] = [
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
    ["2001:0DB8:0001:0002:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
  ];
  for (const [address, source] of cases) assert.equal(lockoutSource(address), source, address);
});

test("N failures lock the source, and only it, until the lockout ends", async (t) => {
  const { admission, clock } = await setup(t);
  const now = clock.now();
  for (let i = 1; i < MAX; i++) {
    assert.deepEqual(await admission.recordFailure("203.0.113.7", now), { failures: i, lockedUntil: null });
    assert.equal(await admission.lockedUntil("203.0.113.7", now), null);
  }
  const locking = await admission.recordFailure("::ffff:203.0.113.7", now);
  assert.deepEqual(
    locking,
    { failures: MAX, lockedUntil: now + LOCKOUT_MS },
    "an IPv4-mapped peer is the same source",
  );
  assert.equal(await admission.lockedUntil("203.0.113.7", now), now + LOCKOUT_MS);
  assert.equal(await admission.lockedUntil("198.51.100.9", now), null, "another source is unaffected");

  clock.advance(60_000);
  const during = await admission.recordFailure("203.0.113.7", clock.now());
  assert.equal(during.lockedUntil, now + LOCKOUT_MS, "a failure during the lock does not extend it");

  clock.set(now + LOCKOUT_MS - 1);
  assert.equal(await admission.lockedUntil("203.0.113.7", clock.now()), now + LOCKOUT_MS);
  clock.advance(1);
  assert.equal(await admission.lockedUntil("203.0.113.7", clock.now()), null, "the lock has ended");
  assert.deepEqual(
    await admission.recordFailure("203.0.113.7", clock.now()),
    { failures: 1, lockedUntil: null },
    "after a lock the count starts again",
  );
});

test("failures older than the window are forgotten", async (t) => {
  const { admission, clock } = await setup(t);
  await fail(admission, "203.0.113.7", clock.now(), MAX - 1);
  clock.advance(WINDOW_MS - 1);
  assert.equal(
    (await admission.recordFailure("203.0.113.7", clock.now())).lockedUntil,
    clock.now() + LOCKOUT_MS,
  );

  await fail(admission, "198.51.100.9", clock.now(), MAX - 1);
  clock.advance(WINDOW_MS);
  assert.deepEqual(await admission.recordFailure("198.51.100.9", clock.now()), {
    failures: 1,
    lockedUntil: null,
  });
});

test("with a maximum of 1 the first failure locks", async (t) => {
  const { admission, clock } = await setup(t, { maxFailures: 1 });
  const now = clock.now();
  assert.deepEqual(await admission.recordFailure("203.0.113.7", now), {
    failures: 1,
    lockedUntil: now + LOCKOUT_MS,
  });
});

test("exempt CIDRs are never counted or locked", async (t) => {
  const { admission, clock } = await setup(t, { exempt: cidrs("192.0.2.0/24", "2001:db8:aaaa::/48") });
  const now = clock.now();
  for (const address of ["192.0.2.5", "::ffff:192.0.2.5", "2001:db8:aaaa:1::9"]) {
    assert.deepEqual(
      await fail(admission, address, now, MAX * 2),
      { failures: 0, lockedUntil: null },
      address,
    );
    assert.equal(await admission.lockedUntil(address, now), null, address);
  }
  assert.equal(
    (await fail(admission, "192.0.3.5", now, MAX)).lockedUntil,
    now + LOCKOUT_MS,
    "outside the list",
  );
});

test("an IPv6 /64 is one source", async (t) => {
  const { admission, clock } = await setup(t);
  const now = clock.now();
  await fail(admission, "2001:db8:1:2::1", now, MAX - 1);
  const locked = await admission.recordFailure("2001:db8:1:2:ffff::9", now);
  assert.deepEqual(locked, { failures: MAX, lockedUntil: now + LOCKOUT_MS });
  assert.equal(await admission.lockedUntil("2001:db8:1:2:abcd::1", now), now + LOCKOUT_MS);
  assert.equal(await admission.lockedUntil("2001:db8:1:3::1", now), null, "the next /64 is another source");
});

test("prune keeps live counts and locks and drops the rest", async (t) => {
  const { admission, db, clock } = await setup(t);
  const start = clock.now();
  await fail(admission, "203.0.113.7", start, MAX); // locked until start + 900 s
  await fail(admission, "198.51.100.9", start, 2); // window until start + 600 s
  clock.advance(WINDOW_MS);
  await admission.prune(clock.now());
  assert.equal(
    await admission.lockedUntil("203.0.113.7", clock.now()),
    start + LOCKOUT_MS,
    "a lock survives pruning",
  );
  if (db.dialect === "postgres") {
    const rows = await db.kysely.selectFrom("auth_failures").select("source").execute();
    assert.deepEqual(
      rows.map((r) => r.source),
      ["203.0.113.7"],
    );
  }
  clock.set(start + LOCKOUT_MS);
  await admission.prune(clock.now());
  assert.equal(await admission.lockedUntil("203.0.113.7", clock.now()), null);
  if (db.dialect === "postgres") {
    assert.equal((await db.kysely.selectFrom("auth_failures").select("source").execute()).length, 0);
  }

  // The in-memory counts of SQLite, counted directly.
  const memory = memoryFailures({ maxFailures: MAX, failureWindowMs: WINDOW_MS, lockoutMs: LOCKOUT_MS });
  for (let i = 0; i < MAX; i++) await memory.record("203.0.113.7", start);
  await memory.record("198.51.100.9", start);
  await memory.prune(start + WINDOW_MS);
  assert.equal(memory.size, 1);
  await memory.prune(start + LOCKOUT_MS);
  assert.equal(memory.size, 0);
});
