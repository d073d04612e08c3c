/**
 * HMAC nonces (ADR 0008 §4) in `auth_nonces` on the suite's store: a nonce is claimed once
 * per key, a replay is refused also through a second handle (another node on PostgreSQL,
 * a reopened file on SQLite), and pruning frees nonces only after their expiry.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import type { Admission } from "../../src/auth/types.ts";
import { ManualClock } from "../../src/core/clock.ts";
import type { Db } from "../../src/store/db.ts";
import { freshDatabase } from "./db.ts";

const HMAC_WINDOW_MS = 300_000;

function admissionOn(db: Db): Admission {
  return createAdmission({ db, maxFailures: 10, failureWindowMs: 600_000, lockoutMs: 900_000, exempt: [] });
}

async function setup(t: TestContext) {
  const open = await freshDatabase(t);
  return { open, admission: admissionOn(open()), clock: new ManualClock() };
}

test("a nonce is claimed once per key", async (t) => {
  const { admission, clock } = await setup(t);
  const expires = clock.now() + HMAC_WINDOW_MS;
  assert.equal(await admission.claimNonce("key_a", "n0nce-0001", expires), true);
  assert.equal(await admission.claimNonce("key_a", "n0nce-0001", expires), false, "a replay");
  assert.equal(
    await admission.claimNonce("key_a", "n0nce-0001", expires + 60_000),
    false,
    "whatever its expiry",
  );
  assert.equal(await admission.claimNonce("key_b", "n0nce-0001", expires), true, "another key's nonce");
  assert.equal(await admission.claimNonce("key_a", "n0nce-0002", expires), true);
});

test("a replay is refused through another handle on the same store", async (t) => {
  const { open, admission, clock } = await setup(t);
  const expires = clock.now() + HMAC_WINDOW_MS;
  assert.equal(await admission.claimNonce("key_a", "n0nce-0001", expires), true);
  const other = admissionOn(open());
  assert.equal(await other.claimNonce("key_a", "n0nce-0001", expires), false);
  assert.equal(await other.claimNonce("key_a", "n0nce-0002", expires), true);
  assert.equal(await admission.claimNonce("key_a", "n0nce-0002", expires), false);
});

test("concurrent claims of one nonce: exactly one wins", async (t) => {
  const { open, admission, clock } = await setup(t);
  const other = admissionOn(open());
  const expires = clock.now() + HMAC_WINDOW_MS;
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      (i % 2 === 0 ? admission : other).claimNonce("key_a", "n0nce-race", expires),
    ),
  );
  assert.equal(results.filter(Boolean).length, 1);
});

test("prune drops nonces only after their expiry", async (t) => {
  const { open, admission, clock } = await setup(t);
  const expires = clock.now() + HMAC_WINDOW_MS;
  await admission.claimNonce("key_a", "n0nce-0001", expires);
  await admission.claimNonce("key_a", "n0nce-0002", expires + 1000);
  await admission.prune(expires);
  assert.equal(await admission.claimNonce("key_a", "n0nce-0001", expires), false, "kept up to its expiry");
  await admission.prune(expires + 1);
  const rows = await open().kysely.selectFrom("auth_nonces").select("nonce").execute();
  assert.deepEqual(
    rows.map((r) => r.nonce),
    ["n0nce-0002"],
  );
});
