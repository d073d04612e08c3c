/**
 * A fresh, migrated database of the suite's store (SEALPOST_TEST_STORE), with as many
 * handles on it as a test wants: two handles stand in for two nodes. Kept apart from
 * helpers/app.ts so these unit tests load only the store, not the whole app.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import pg from "pg";
import type { DatabaseTarget } from "../../src/config/schema.ts";
import { type Db, openDb } from "../../src/store/db.ts";
import { migrate } from "../../src/store/migrations.ts";
import { postgresUrl } from "../helpers/tools.ts";

/** Returns `open()`, which opens one more handle; everything is closed and dropped after the test. */
export async function freshDatabase(t: TestContext): Promise<() => Db> {
  const dataDir = mkdtempSync(join(tmpdir(), "sealpost-auth-"));
  const handles: Db[] = [];
  let target: DatabaseTarget = { kind: "sqlite", path: null };
  let drop = async () => {};
  if (process.env.SEALPOST_TEST_STORE === "postgres") {
    const admin = postgresUrl() ?? "postgres://postgres@127.0.0.1:5432/postgres";
    const name = `sealpost_t_${randomBytes(6).toString("hex")}`;
    await adminQuery(admin, `CREATE DATABASE ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    target = { kind: "postgres", url: url.toString() };
    drop = () => adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  t.after(async () => {
    for (const db of handles) await db.close();
    await drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const open = () => {
    const db = openDb(target, dataDir, { poolSize: 2 });
    handles.push(db);
    return db;
  };
  await migrate(open());
  return open;
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
