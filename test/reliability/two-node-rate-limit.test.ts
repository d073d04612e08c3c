/**
 * Rate limits hold across nodes (ADR 0008 §5): two Admission instances, each on its own
 * connection pool to one PostgreSQL database, charge one key bucket at q = 20/s together
 * for 5 s of fake time, offering far more than the quota at every step. GCRA admits the
 * burst of 20 plus one request per 50 ms: 120, and the test accepts ±10 %. Counts only;
 * the fake clock moves in fixed steps, so the loop is bounded and no wall time is asserted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import type { Admission, BucketSpec } from "../../src/auth/types.ts";
import { ManualClock } from "../../src/core/clock.ts";
import type { Db } from "../../src/store/db.ts";
import { freshDatabase } from "../auth/db.ts";

const QUOTA = 20;
const SECONDS = 5;
const STEP_MS = 25;
/** Requests each node offers per step: 240/s together, twelve times the quota. */
const PER_NODE_PER_STEP = 3;

function node(db: Db): Admission {
  return createAdmission({ db, maxFailures: 10, failureWindowMs: 600_000, lockoutMs: 900_000, exempt: [] });
}

test("two nodes on one PostgreSQL share a key's rate limit: 20/s for 5 s admits 120 ± 10 %", async (t) => {
  if (process.env.SEALPOST_TEST_STORE !== "postgres") {
    t.skip("PostgreSQL-only: nodes share rate limits only through PostgreSQL (runs in the postgres pass)");
    return;
  }
  const open = await freshDatabase(t);
  const nodes = [node(open()), node(open())];
  const clock = new ManualClock();
  const start = clock.now();
  const bucket: BucketSpec[] = [
    { name: "key", bucket: "k:key_two_nodes", limit: { quota: QUOTA, windowMs: 1000 } },
  ];

  let accepted = 0;
  let offered = 0;
  for (let step = 0; step <= (SECONDS * 1000) / STEP_MS; step++) {
    clock.set(start + step * STEP_MS);
    const now = clock.now();
    const charges = nodes.flatMap((n) =>
      Array.from({ length: PER_NODE_PER_STEP }, () => n.charge(bucket, now)),
    );
    const results = await Promise.all(charges);
    offered += results.length;
    accepted += results.filter((c) => c.allowed).length;
  }
  process.stdout.write(`# two-node rate limit: offered=${offered} accepted=${accepted}\n`);
  const expected = QUOTA * SECONDS + QUOTA;
  assert.ok(
    accepted >= expected * 0.9 && accepted <= expected * 1.1,
    `accepted ${accepted}, expected ${expected} ± 10 %`,
  );
});
