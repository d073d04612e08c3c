/**
 * `audit verify` (ADR 0009 §3): a chain appended through the writer verifies; each kind of
 * tampering an attacker with write access to the database could do is detected, and the
 * first bad entry is named by seq, id and problem. Exports verify offline, and tampering
 * with an export is caught the same way.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { exportLines, parseExport } from "../../src/audit/export.ts";
import { entryHash } from "../../src/audit/hash.ts";
import { verifyChain } from "../../src/audit/verify.ts";
import { verifyStoredChain } from "../../src/audit/verify-store.ts";
import { streamEntries } from "../../src/store/audit.ts";
import { freshDatabase } from "../auth/db.ts";
import { appendN, insertForged, row, rows, setFields, swapRows, writer } from "./chain.ts";

const N = 20;

async function setup(t: import("node:test").TestContext, chains: readonly string[]) {
  const open = await freshDatabase(t);
  const db = open();
  const audit = writer(db);
  t.after(() => audit.close());
  for (const chain of chains) await appendN(audit, chain, N);
  return db;
}

test("an untouched chain verifies: every entry checked, seq 1..N", async (t) => {
  const db = await setup(t, ["org_a"]);
  const report = await verifyStoredChain(db, "org_a");
  assert.deepEqual(report, { ok: true, chain: "org_a", checked: N, firstBad: null });
  assert.deepEqual(
    (await rows(db, "org_a")).map((r) => r.seq),
    Array.from({ length: N }, (_, i) => i + 1),
  );
  const empty = await verifyStoredChain(db, "org_none");
  assert.equal(empty.ok, true);
  assert.equal(empty.checked, 0);
});

test("changing one field of one row is named: that row, changed", async (t) => {
  const db = await setup(t, ["org_a"]);
  const target = await row(db, "org_a", 7);
  await setFields(db, "org_a", 7, { outcome: "forbidden" });
  assert.deepEqual((await verifyStoredChain(db, "org_a")).firstBad, {
    seq: 7,
    id: target.id,
    problem: "changed",
  });
});

test("deleting a row is named: the missing seq, removed", async (t) => {
  const db = await setup(t, ["org_a", "org_b"]);
  await db.kysely.deleteFrom("audit_log").where("chain", "=", "org_a").where("seq", "=", 9).execute();
  assert.deepEqual((await verifyStoredChain(db, "org_a")).firstBad, { seq: 9, id: null, problem: "removed" });
  // The last row: the head still names it.
  await db.kysely.deleteFrom("audit_log").where("chain", "=", "org_b").where("seq", "=", N).execute();
  assert.deepEqual((await verifyStoredChain(db, "org_b")).firstBad, { seq: N, id: null, problem: "removed" });
});

test("inserting a row with a consistent hash is named: the forged row, inserted", async (t) => {
  const db = await setup(t, ["org_a", "org_b"]);
  const forged = await insertForged(db, "org_a", 6);
  const report = await verifyStoredChain(db, "org_a");
  assert.deepEqual(report.firstBad, { seq: 6, id: forged, problem: "inserted" });
  assert.equal(report.checked, 6);
  // Appended after the last entry without moving the head.
  const last = await row(db, "org_b", N);
  const tail = { ...last, seq: N + 1, id: "aud_11111111111111111111111111", prev_hash: last.hash };
  const { hash: _h, ...unhashed } = tail;
  await db.kysely
    .insertInto("audit_log")
    .values({ ...tail, hash: entryHash(last.hash, unhashed) })
    .execute();
  assert.deepEqual((await verifyStoredChain(db, "org_b")).firstBad, {
    seq: N + 1,
    id: tail.id,
    problem: "inserted",
  });
});

test("swapping two rows (contents swapped, seq kept) is named: the first, reordered", async (t) => {
  const db = await setup(t, ["org_a", "org_b"]);
  const moved = await row(db, "org_a", 12);
  await swapRows(db, "org_a", 11, 12);
  assert.deepEqual((await verifyStoredChain(db, "org_a")).firstBad, {
    seq: 11,
    id: moved.id,
    problem: "reordered",
  });
  // Far apart, too.
  const far = await row(db, "org_b", 15);
  await swapRows(db, "org_b", 3, 15);
  assert.deepEqual((await verifyStoredChain(db, "org_b")).firstBad, {
    seq: 3,
    id: far.id,
    problem: "reordered",
  });
});

test("a last row changed and re-hashed no longer matches the head: head_mismatch", async (t) => {
  const db = await setup(t, ["org_a"]);
  const last = await row(db, "org_a", N);
  const changed = { ...last, outcome: "forbidden" };
  const { hash: _h, ...unhashed } = changed;
  await setFields(db, "org_a", N, { outcome: "forbidden", hash: entryHash(last.prev_hash, unhashed) });
  assert.deepEqual((await verifyStoredChain(db, "org_a")).firstBad, {
    seq: N,
    id: last.id,
    problem: "head_mismatch",
  });
});

test("an export round-trips as JSON Lines and verifies offline; a tampered export is caught", async (t) => {
  const db = await setup(t, ["org_a"]);
  let text = "";
  for await (const line of exportLines(streamEntries(db, "org_a"))) text += line;
  assert.equal(text.trim().split("\n").length, N);
  const exported = parseExport(text);
  assert.deepEqual(
    exported,
    (await rows(db, "org_a")).map((r) => ({ ...r })),
  );
  assert.equal(verifyChain(exported).ok, true);

  const lines = text.trim().split("\n");
  const edited = JSON.parse(lines[4] ?? "{}") as Record<string, unknown>;
  edited.source_ip = "192.0.2.66";
  const tampered = [...lines.slice(0, 4), JSON.stringify(edited), ...lines.slice(5)].join("\n");
  assert.deepEqual(verifyChain(parseExport(tampered)).firstBad, {
    seq: 5,
    id: edited.id,
    problem: "changed",
  });
  const dropped = [...lines.slice(0, 4), ...lines.slice(5)].join("\n");
  assert.deepEqual(verifyChain(parseExport(dropped)).firstBad, { seq: 5, id: null, problem: "removed" });
  const swapped = [...lines.slice(0, 4), lines[5], lines[4], ...lines.slice(6)].join("\n");
  assert.equal(verifyChain(parseExport(swapped)).firstBad?.problem, "reordered");
  // A slice (an export --from) verifies from its first entry.
  assert.equal(verifyChain(exported.slice(8), undefined, { start: "first" }).ok, true);
});
