/**
 * The audit chains stay linear with several nodes writing (ADR 0009 §1): two writers, each
 * on its own connection pool to one PostgreSQL database, append 500 entries each at the
 * same time, to one shared chain and spread over several chains. The head row lock orders
 * their transactions, so every chain verifies with seq 1..N, no gap and no fork.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuditLog } from "../../src/audit/types.ts";
import { verifyStoredChain } from "../../src/audit/verify-store.ts";
import { findHead } from "../../src/store/audit.ts";
import { entry, rows, writer } from "../audit/chain.ts";
import { freshDatabase } from "../auth/db.ts";

const PER_NODE = 500;
const CHAINS = ["org_shared", "org_one", "org_two", "org_three", "instance"];

/** Records `n` entries, yielding to the event loop now and then so both nodes' transactions overlap. */
async function append(
  audit: AuditLog,
  n: number,
  chainOf: (i: number) => string,
  node: string,
): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const e = entry(chainOf(i), i);
    if (i % 25 === 0) await audit.recordNow({ ...e, actorId: node });
    else audit.record({ ...e, actorId: node });
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  await audit.flush();
}

test("two nodes appending at once on PostgreSQL keep every chain linear: seq 1..N, verified", async (t) => {
  if (process.env.SEALPOST_TEST_STORE !== "postgres") {
    t.skip(
      "PostgreSQL-only: several nodes share one database only on PostgreSQL (runs in the postgres pass)",
    );
    return;
  }
  const open = await freshDatabase(t);
  const [dbA, dbB] = [open(), open()];
  const [a, b] = [writer(dbA), writer(dbB)];
  t.after(async () => {
    await a.close();
    await b.close();
  });

  // One chain, both nodes: the first append of each races to create the head row.
  await Promise.all([
    append(a, PER_NODE, () => "org_shared", "node_a"),
    append(b, PER_NODE, () => "org_shared", "node_b"),
  ]);
  // Several chains at once.
  const spread = (i: number) => CHAINS[i % CHAINS.length] ?? "instance";
  await Promise.all([append(a, PER_NODE, spread, "node_a"), append(b, PER_NODE, spread, "node_b")]);

  const perChain = (2 * PER_NODE) / CHAINS.length;
  for (const chain of CHAINS) {
    const expected = chain === "org_shared" ? 2 * PER_NODE + perChain : perChain;
    const stored = await rows(dbA, chain);
    assert.deepEqual(
      stored.map((r) => r.seq),
      Array.from({ length: expected }, (_, i) => i + 1),
      `${chain}: seq 1..${expected} without a gap`,
    );
    assert.deepEqual(new Set(stored.map((r) => r.actor_id)), new Set(["node_a", "node_b"]));
    // The nodes' transactions interleaved: the chain passes from one node to the other many times.
    const handovers = stored.filter((r, i) => i > 0 && r.actor_id !== stored[i - 1]?.actor_id).length;
    assert.ok(handovers >= 4, `${chain}: ${handovers} handovers between the nodes`);
    const report = await verifyStoredChain(dbB, chain);
    assert.deepEqual(report, { ok: true, chain, checked: expected, firstBad: null });
    assert.equal((await findHead(dbA, chain))?.seq, expected);
  }
});
