/**
 * Rate limits hold across nodes (ADR 0008 §5): two Admission instances, each on its own
 * connection pool to one PostgreSQL database, charge one key bucket at q = 20/s together
 * for 5 s of fake time, offering far more than the quota at every step. GCRA admits the
 * burst of 20 plus one request per 50 ms: 120, and the test accepts ±10 %. Counts only;
 * the fake clock moves in fixed steps, so the loop is bounded and no wall time is asserted.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import type { Admission, BucketSpec } from "../../src/auth/types.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { createSealpost, type Sealpost } from "../../src/main.ts";
import type { Db } from "../../src/store/db.ts";
import { freshDatabase } from "../auth/db.ts";
import { auth, startTestApp, tempDir } from "../helpers/app.ts";

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

test("two sealpost nodes on one PostgreSQL hold a key to 20/s over HTTP: 120 ± 10 % in 5 s", async (t) => {
  if (process.env.SEALPOST_TEST_STORE !== "postgres") {
    t.skip("PostgreSQL-only: nodes share rate limits only through PostgreSQL (runs in the postgres pass)");
    return;
  }
  const clock = new ManualClock();
  const start = clock.now();
  const env = { SEALPOST_RATE_LIMIT_KEY: `${QUOTA}/s`, SEALPOST_MASTER_KEY: randomBytes(32).toString("hex") };
  const first = await startTestApp(t, { worker: false, clock, env });
  // The second node: its own data dir, the same database and master key, the same clock.
  const dataDir = tempDir();
  const second: Sealpost = await createSealpost(loadConfig({ ...first.env, SEALPOST_DATA_DIR: dataDir }), {
    logger: silentLogger(),
    clock,
  });
  const key = await first.key(["messages:read"]);

  const counts = new Map<number, number>();
  try {
    for (let step = 0; step <= (SECONDS * 1000) / STEP_MS; step++) {
      clock.set(start + step * STEP_MS);
      const answers = await Promise.all(
        [first.app, second].flatMap((node) =>
          Array.from({ length: PER_NODE_PER_STEP }, () =>
            node.api.inject({ url: "/v1/messages", headers: auth(key) }),
          ),
        ),
      );
      for (const a of answers) counts.set(a.statusCode, (counts.get(a.statusCode) ?? 0) + 1);
    }
  } finally {
    // Before the first node's cleanup drops the shared database: the second node's audit
    // writer still flushes on close.
    await second.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const accepted = counts.get(200) ?? 0;
  process.stdout.write(`# two-node rate limit over HTTP: ${JSON.stringify(Object.fromEntries(counts))}\n`);
  assert.deepEqual([...counts.keys()].sort(), [200, 429], "only 200s and 429s");
  const expected = QUOTA * SECONDS + QUOTA;
  assert.ok(
    accepted >= expected * 0.9 && accepted <= expected * 1.1,
    `accepted ${accepted}, expected ${expected} ± 10 %`,
  );
});
