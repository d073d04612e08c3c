/**
 * The SQLite driver (ADR 0012): the write lock is waited for on a timer, not inside SQLite,
 * so while another connection holds it this process's event loop keeps running and the
 * waiting write lands once the lock is free; reads go to a connection of their own and
 * wait for no transaction. SQLite only: PostgreSQL waits on a socket anyway.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { sql } from "kysely";
import { openDb } from "../../src/store/db.ts";
import { retryWhileBusy } from "../../src/store/sqlite-driver.ts";
import { tempDir } from "../helpers/app.ts";

const HOLD_MS = 120;
const SQLITE_ONLY = { skip: process.env.SEALPOST_TEST_STORE === "postgres" };

async function setup(t: import("node:test").TestContext) {
  const dir = tempDir();
  const db = openDb({ kind: "sqlite", path: join(dir, "lock.db") }, dir);
  t.after(() => db.close());
  await sql`create table t (x integer)`.execute(db.kysely);
  // Another connection, as the worker thread or a CLI command would hold one.
  const other = new DatabaseSync(join(dir, "lock.db"));
  t.after(() => other.close());
  return { db, other };
}

/** Counts timer ticks while `work` runs: a loop asleep inside SQLite would count none. */
async function ticksDuring(work: Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

function holdLock(other: DatabaseSync): void {
  other.exec("begin immediate");
  other.exec("insert into t values (0)");
  setTimeout(() => other.exec("commit"), HOLD_MS);
}

test("a write transaction waits for the lock without stopping the event loop", SQLITE_ONLY, async (t) => {
  const { db, other } = await setup(t);
  holdLock(other);
  const ticks = await ticksDuring(
    db.kysely.transaction().execute(async (trx) => {
      await sql`insert into t values (1)`.execute(trx);
    }),
  );
  assert.ok(ticks >= 5, `the loop ticked ${ticks} times while waiting`);
  const rows = await sql<{ x: number }>`select x from t order by x`.execute(db.kysely);
  assert.deepEqual(
    rows.rows.map((r) => r.x),
    [0, 1],
  );
});

test("a statement outside a transaction is retried once the lock is free", SQLITE_ONLY, async (t) => {
  const { db, other } = await setup(t);
  holdLock(other);
  const ticks = await ticksDuring(sql`insert into t values (2)`.execute(db.kysely));
  assert.ok(ticks >= 5, `the loop ticked ${ticks} times while waiting`);
  const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely);
  assert.equal(rows.rows[0]?.n, 2);
});

test("reads are not held up by a writer, inside a read transaction or not", SQLITE_ONLY, async (t) => {
  const { db, other } = await setup(t);
  other.exec("begin immediate");
  // The writer lets go only when the test ends: reads that waited for it would not return.
  await sql`select count(*) from t`.execute(db.kysely);
  await db.kysely
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute((trx) => sql`select count(*) from t`.execute(trx));
  assert.ok(other.isTransaction, "the writer still holds the lock");
  other.exec("rollback");
});

test("the wait is bounded: after it, the busy error is the caller's", async () => {
  let attempts = 0;
  const busy = Object.assign(new Error("database is locked"), { errcode: 5 });
  await assert.rejects(
    retryWhileBusy(async () => {
      attempts++;
      throw busy;
    }, 30),
    (err) => err === busy,
  );
  assert.ok(attempts > 1);
  // Any other error is not retried.
  attempts = 0;
  await assert.rejects(
    retryWhileBusy(async () => {
      attempts++;
      throw new Error("no such table");
    }),
    /no such table/,
  );
  assert.equal(attempts, 1);
});

test("a read does not wait for this process's own open transaction", SQLITE_ONLY, async (t) => {
  const { db } = await setup(t);
  let finish!: () => void;
  const held = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let inserted!: () => void;
  const began = new Promise<void>((resolve) => {
    inserted = resolve;
  });
  const tx = db.kysely.transaction().execute(async (trx) => {
    await sql`insert into t values (3)`.execute(trx);
    inserted();
    await held;
  });
  await began;
  // The transaction is open and holds the write connection: the read is answered anyway,
  // from the last commit.
  const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely);
  assert.equal(rows.rows[0]?.n, 0);
  finish();
  await tx;
  const after = await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely);
  assert.equal(after.rows[0]?.n, 1);
});

test("writes outside a transaction take turns with transactions, in order", SQLITE_ONLY, async (t) => {
  const { db } = await setup(t);
  const order: number[] = [];
  await Promise.all([
    db.kysely.transaction().execute(async (trx) => {
      await sql`insert into t values (1)`.execute(trx);
      await new Promise((r) => setTimeout(r, 20));
      await sql`insert into t values (2)`.execute(trx);
      order.push(1);
    }),
    sql`insert into t values (3)`.execute(db.kysely).then(() => order.push(2)),
  ]);
  assert.deepEqual(order, [1, 2]);
  const rows = await sql<{ x: number }>`select x from t order by rowid`.execute(db.kysely);
  assert.deepEqual(
    rows.rows.map((r) => r.x),
    [1, 2, 3],
  );
});

test("a failed transaction is rolled back and lets the next one in", SQLITE_ONLY, async (t) => {
  const { db } = await setup(t);
  await assert.rejects(
    db.kysely.transaction().execute(async (trx) => {
      await sql`insert into t values (1)`.execute(trx);
      throw new Error("boom");
    }),
    /boom/,
  );
  await assert.rejects(sql`insert into nowhere values (1)`.execute(db.kysely), /no such table/);
  await db.kysely.transaction().execute((trx) => sql`insert into t values (2)`.execute(trx));
  const rows = await sql<{ x: number }>`select x from t`.execute(db.kysely);
  assert.deepEqual(
    rows.rows.map((r) => r.x),
    [2],
  );
});
