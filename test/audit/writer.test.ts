/**
 * The audit writer (ADR 0009 §2): entries recorded together are chained in one
 * transaction per chain (group commit), `recordNow` resolves only once its entry is
 * committed, `close` commits what was recorded and drops later records with a warning,
 * and `record` never throws into its caller. Details are allow-listed before hashing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { allowDetails } from "../../src/audit/details.ts";
import { verifyStoredChain } from "../../src/audit/verify-store.ts";
import { carryingAudit } from "../../src/audit/writer.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { appendChains, type ChainDrafts } from "../../src/store/audit.ts";
import type { Db } from "../../src/store/db.ts";
import { freshDatabase } from "../auth/db.ts";
import { collector } from "../helpers/canary.ts";
import { entry, rows, writer } from "./chain.ts";

/** The same database, counting the transactions begun through this handle. */
function counting(db: Db): { db: Db; transactions: () => number } {
  let n = 0;
  const kysely = new Proxy(db.kysely, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "transaction") n++;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: { ...db, kysely }, transactions: () => n };
}

test("entries recorded together are chained in a few transactions, one chain at a time", async (t) => {
  const open = await freshDatabase(t);
  const { db, transactions } = counting(open());
  const audit = writer(db);
  t.after(() => audit.close());
  for (let i = 1; i <= 300; i++) audit.record(entry("org_a", i));
  for (let i = 1; i <= 40; i++) audit.record(entry("org_b", i));
  await audit.flush();
  // 256 entries a transaction at most: two for org_a, one for org_b.
  assert.equal(transactions(), 3);
  assert.deepEqual(
    (await rows(db, "org_a")).map((r) => r.seq),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  assert.equal((await rows(db, "org_b")).length, 40);
  assert.equal((await verifyStoredChain(db, "org_a")).ok, true);
  assert.equal((await verifyStoredChain(db, "org_b")).ok, true);
});

test("entries recorded while a transaction is in flight go in the next one", async (t) => {
  const open = await freshDatabase(t);
  const { db, transactions } = counting(open());
  const audit = writer(db);
  t.after(() => audit.close());
  const first = audit.recordNow(entry("org_a", 1));
  // The first transaction starts on the next turn; these arrive while it runs.
  await new Promise((r) => setImmediate(r));
  for (let i = 2; i <= 50; i++) audit.record(entry("org_a", i));
  await first;
  await audit.flush();
  assert.equal(transactions(), 2);
  assert.equal((await verifyStoredChain(db, "org_a")).checked, 50);
});

test("buffered entries ride in another writer's transaction; a failed one gives them back", async (t) => {
  const open = await freshDatabase(t);
  const { db, transactions } = counting(open());
  const audit = writer(db);
  t.after(() => audit.close());
  // A carrier: a submission or delivery commit appends them with its own rows.
  const carrier = (fail: boolean) => (entries: readonly ChainDrafts[]) =>
    db.kysely.transaction().execute(async (trx) => {
      await appendChains({ ...db, kysely: trx }, entries);
      if (fail) throw new Error("the carrier's own rows failed");
    });
  for (let i = 1; i <= 5; i++) audit.record(entry("org_a", i));
  audit.record(entry("org_b", 1));
  await carryingAudit(audit, carrier(false));
  await audit.flush();
  assert.equal(transactions(), 1, "one commit carried both chains; nothing was left to write alone");
  assert.equal((await rows(db, "org_a")).length, 5);
  assert.equal((await rows(db, "org_b")).length, 1);

  audit.record(entry("org_a", 6));
  await assert.rejects(carryingAudit(audit, carrier(true)), /carrier/);
  await audit.flush();
  assert.deepEqual(
    (await rows(db, "org_a")).map((r) => r.seq),
    [1, 2, 3, 4, 5, 6],
    "the entry given back was appended by its own writer",
  );
  assert.equal((await verifyStoredChain(db, "org_a")).ok, true);
  assert.equal((await verifyStoredChain(db, "org_b")).ok, true);
});

test("recordNow resolves once the entry is committed: another connection reads it", async (t) => {
  const open = await freshDatabase(t);
  const audit = writer(open());
  t.after(() => audit.close());
  const other = open();
  await audit.recordNow({ ...entry("org_a", 1), action: "key.revoke", targetType: "key", targetId: "key_x" });
  const [stored] = await rows(other, "org_a");
  assert.equal(stored?.action, "key.revoke");
  assert.equal(stored?.seq, 1);
});

test("close commits what was recorded; later records are dropped with a warning, recordNow refused", async (t) => {
  const open = await freshDatabase(t);
  const db = open();
  const logs = collector();
  const audit = writer(db, { logger: createLogger({ level: "warn", destination: logs.stream }) });
  for (let i = 1; i <= 30; i++) audit.record(entry("org_a", i));
  await audit.close();
  assert.equal((await rows(db, "org_a")).length, 30);
  audit.record(entry("org_a", 31));
  await assert.rejects(audit.recordNow(entry("org_a", 32)));
  await audit.flush();
  assert.equal((await rows(db, "org_a")).length, 30);
  assert.match(logs.text(), /after the audit log closed/);
});

test("record never throws into its caller: a bad entry or a failed append is logged", async (t) => {
  const open = await freshDatabase(t);
  const db = open();
  const logs = collector();
  const audit = writer(db, { logger: createLogger({ level: "warn", destination: logs.stream }) });
  assert.doesNotThrow(() => audit.record({ ...entry("org_a", 1), action: "Not An Action" }));
  // The append fails in the database.
  await db.kysely.schema.dropTable("audit_heads").execute();
  assert.doesNotThrow(() => audit.record(entry("org_a", 2)));
  await audit.flush();
  assert.match(logs.text(), /audit entry refused/);
  assert.match(logs.text(), /audit entry could not be appended/);
});

test("details keep allow-listed scalars only; ids and free text that could hold an address are dropped", async (t) => {
  assert.deepEqual(
    allowDetails({
      attempt: 2,
      tls_version: "TLSv1.3",
      scopes: ["messages:send", "audit:read"],
      cert_verified: true,
      subject: "Lab results for J. Doe",
      recipient: "patient@example.org",
      reason: "patient@example.org",
      code: "x".repeat(129),
      count: Number.NaN,
      messages: { nested: 1 },
    }),
    { attempt: 2, tls_version: "TLSv1.3", scopes: ["messages:send", "audit:read"], cert_verified: true },
  );
  assert.deepEqual(allowDetails("not an object"), {});

  const open = await freshDatabase(t);
  const db = open();
  const audit = writer(db);
  t.after(() => audit.close());
  await audit.recordNow({
    ...entry("org_a", 1),
    targetId: "patient@example.org",
    actorId: "jane@example.org",
    sourceIp: "not an ip <jane@example.org>",
    details: { reason: "patient@example.org", code: "bounced" },
  });
  const [stored] = await rows(db, "org_a");
  assert.ok(stored !== undefined);
  assert.equal(stored.target_id, null);
  assert.equal(stored.actor_id, null);
  assert.equal(stored.source_ip, null);
  assert.equal(stored.details, '{"code":"bounced"}');
  assert.doesNotMatch(JSON.stringify(stored), /example\.org/);
});
