/**
 * SQLite commits are synced off the event loop (ADR 0013): `synchronous = NORMAL`, and a
 * commit resolves once a WAL fdatasync that started after it has ended; commits made while
 * a sync runs share the next one; reads wait for unsynced commits; a failed sync is final.
 * The syncs are real fdatasync calls on real files, observed (or held) by the test. SQLite
 * only: PostgreSQL syncs on its server.
 */
import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { sql } from "kysely";
import { type Db, openDb } from "../../src/store/db.ts";
import { WalSync } from "../../src/store/wal-sync.ts";
import { tempDir } from "../helpers/app.ts";

const SQLITE_ONLY = { skip: process.env.SEALPOST_TEST_STORE === "postgres" };

async function fdatasync(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Real syncs the test holds until it lets them go, in order. */
function heldSyncs() {
  const started: Array<{ path: string; release: () => void }> = [];
  let waiters: Array<() => void> = [];
  const syncFile = async (path: string) => {
    await new Promise<void>((release) => {
      started.push({ path, release });
      for (const w of waiters) w();
      waiters = [];
    });
    await fdatasync(path);
  };
  /** Resolves once `n` syncs have started. */
  const startedCount = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (started.length >= n ? resolve() : waiters.push(check));
      check();
    });
  return { syncFile, started, startedCount };
}

/** Settles to "pending" if `p` has not settled within a few turns of the event loop. */
async function state(p: Promise<unknown>): Promise<"resolved" | "rejected" | "pending"> {
  const pending = Symbol("pending");
  const raced = await Promise.race([
    p.then(
      () => "resolved" as const,
      () => "rejected" as const,
    ),
    new Promise((r) => setTimeout(() => r(pending), 20)),
  ]);
  return raced === pending ? "pending" : (raced as "resolved" | "rejected");
}

test("a commit resolves after a sync that started after it; commits during a sync share the next", async () => {
  const dir = tempDir();
  const file = join(dir, "x.db");
  await (await open(`${file}-wal`, "w")).close();
  const held = heldSyncs();
  const sync = new WalSync(file, held.syncFile);

  const a = sync.committed();
  await held.startedCount(1);
  const b = sync.committed();
  const c = sync.committed();
  assert.equal(b, c, "commits made while a sync runs share one queued sync");
  assert.equal(held.started.length, 1, "the queued sync waits for the running one");

  held.started[0]?.release();
  await a;
  assert.equal(await state(b), "pending", "b ended after sync 1 began: sync 1 does not cover it");
  await held.startedCount(2);
  held.started[1]?.release();
  await Promise.all([b, c]);
  assert.equal(held.started.length, 2);
  assert.ok(
    held.started.every((s) => s.path === `${file}-wal`),
    "the WAL file is synced",
  );

  // Nothing unsynced: durable() answers without a sync.
  assert.equal(sync.pending, false);
  await sync.durable();
  assert.equal(held.started.length, 2);
});

test("a failed sync fails its commits and every later one", async () => {
  const dir = tempDir();
  // The WAL's directory is a regular file: opening the WAL fails with ENOTDIR.
  const notADir = join(dir, "file");
  await (await open(notADir, "w")).close();
  const sync = new WalSync(join(notADir, "x.db"));
  await assert.rejects(sync.committed(), { code: "ENOTDIR" });
  assert.equal(sync.pending, true, "reads keep waiting, and fail");
  await assert.rejects(sync.durable(), { code: "ENOTDIR" });
  await assert.rejects(sync.committed(), { code: "ENOTDIR" });
  assert.throws(() => sync.check(), { code: "ENOTDIR" });
});

test("no WAL yet: nothing was written, nothing to sync", async () => {
  const sync = new WalSync(join(tempDir(), "fresh.db"));
  await sync.committed();
  assert.equal(sync.pending, false);
  await sync.close();
});

/** A store whose syncs the test holds (and, once `failing()` says so, fail), with table t created. */
async function heldStore(t: TestContext, failing: () => boolean = () => false) {
  const dir = tempDir();
  const held = heldSyncs();
  const db = openDb({ kind: "sqlite", path: join(dir, "s.db") }, dir, {
    syncFile: async (path) => {
      await held.syncFile(path);
      if (failing()) throw Object.assign(new Error("EIO"), { code: "EIO" });
    },
  });
  t.after(() => {
    for (const s of held.started) s.release();
    return db.close();
  });
  const create = sql`create table t (x integer)`.execute(db.kysely);
  await held.startedCount(1);
  held.started[0]?.release();
  await create;
  return { db, held };
}

/** Inserts x into t, in a transaction of its own or (`trx`) the caller's. */
function insert(executor: Db["kysely"], x: number) {
  return executor
    .insertInto("t" as never)
    .values({ x } as never)
    .execute();
}

test("driver: a commit waits for its sync, a read for every unsynced commit", SQLITE_ONLY, async (t) => {
  const { db, held } = await heldStore(t);

  const tx = db.kysely.transaction().execute((trx) => insert(trx, 1));
  await held.startedCount(2);
  assert.equal(await state(tx), "pending", "the commit waits for its sync");

  // The write turn is free while the sync runs: the next transaction commits meanwhile.
  const next = db.kysely.transaction().execute((trx) => insert(trx, 2));
  assert.equal(await state(next), "pending");
  // A read runs at once, and answers only once every commit it could see is synced.
  const read = sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely);
  assert.equal(await state(read), "pending", "the read waits for the unsynced commits");

  held.started[1]?.release();
  await tx;
  await held.startedCount(3);
  assert.equal(await state(read), "pending", "it saw the second commit: it waits for that one's sync too");
  held.started[2]?.release();
  await next;
  assert.equal((await read).rows[0]?.n, 2, "it saw both commits, and answered once both were synced");
  assert.equal(held.started.length, 3, "two commits, one sync each, the second shared with none");

  // With nothing pending, a read takes no sync.
  await sql`select 1`.execute(db.kysely);
  assert.equal(held.started.length, 3);
});

test("driver: NORMAL, the real WAL file synced, syncs shared by commits", SQLITE_ONLY, async (t) => {
  const dir = tempDir();
  const paths: string[] = [];
  const db = openDb({ kind: "sqlite", path: join(dir, "r.db") }, dir, {
    syncFile: async (path) => {
      paths.push(path);
      await fdatasync(path);
    },
  });
  t.after(() => db.close());
  await sql`create table t (x integer)`.execute(db.kysely);
  const mode = await sql<{ synchronous: number }>`pragma synchronous`.execute(db.kysely);
  assert.equal(mode.rows[0]?.synchronous, 1, "synchronous = NORMAL on the write connection");
  const before = paths.length;
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => db.kysely.transaction().execute((trx) => insert(trx, i))),
  );
  const syncs = paths.length - before;
  assert.ok(syncs >= 1 && syncs <= 50, `50 commits took ${syncs} syncs`);
  assert.ok(paths.every((p) => p === join(dir, "r.db-wal")));
  const n = await sql<{ n: number }>`select count(*) as n from t`.execute(db.kysely);
  assert.equal(n.rows[0]?.n, 50);
});

test(
  "driver: a read transaction ends only once the commits it could see are synced; writes fail after a failed sync",
  SQLITE_ONLY,
  async (t) => {
    let fail = false;
    const { db, held } = await heldStore(t, () => fail);

    const first = insert(db.kysely, 1);
    await held.startedCount(2);
    const snapshot = db.kysely
      .transaction()
      .setIsolationLevel("repeatable read")
      .execute((trx) => sql<{ n: number }>`select count(*) as n from t`.execute(trx));
    assert.equal(await state(snapshot), "pending", "the snapshot saw an unsynced commit");
    held.started[1]?.release();
    await first;
    assert.equal((await snapshot).rows[0]?.n, 1);

    fail = true;
    const lost = insert(db.kysely, 2);
    await held.startedCount(3);
    held.started[2]?.release();
    await assert.rejects(lost, { code: "EIO" });
    await assert.rejects(insert(db.kysely, 3), { code: "EIO" });
    await assert.rejects(sql`select count(*) from t`.execute(db.kysely), { code: "EIO" }, "reads fail too");
    await assert.rejects(
      db.kysely.transaction().execute((trx) => insert(trx, 4)),
      { code: "EIO" },
    );
  },
);
