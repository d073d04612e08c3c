import { join } from "node:path";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { DatabaseTarget } from "../config/schema.ts";
import type { Database } from "./schema.ts";
import { openSqlite } from "./sqlite.ts";
import { SplitSqliteDialect } from "./sqlite-driver.ts";
import { type SyncFile, WalSync } from "./wal-sync.ts";

export type Dialect = "sqlite" | "postgres";

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  /** Where the data lives, without credentials, for start-up messages. */
  readonly description: string;
  close(): Promise<void>;
}

const INT8_OID = 20;

/** int8 columns hold epoch milliseconds and counters, all well inside 2^53. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface OpenDbOptions {
  /** PostgreSQL pool size. */
  poolSize?: number;
  /** SQLite: how a file is synced (ADR 0013); tests pass one that observes or holds syncs. */
  syncFile?: SyncFile;
}

export function openDb(target: DatabaseTarget, dataDir: string, opts: OpenDbOptions = {}): Db {
  if (target.kind === "postgres") {
    const pool = new pg.Pool({ connectionString: target.url, max: opts.poolSize ?? 10, types: pgTypes });
    // An idle connection the server ends (a restart, pg_terminate_backend, DROP DATABASE …
    // WITH (FORCE) racing pool.end()) is an 'error' on the pool; unheard, it would crash the
    // process. The pool drops that connection and opens a new one for the next query.
    pool.on("error", () => {});
    const url = new URL(target.url);
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      kysely,
      dialect: "postgres",
      description: `postgres://${url.host}${url.pathname}`,
      close: () => kysely.destroy(),
    };
  }
  const path = target.path ?? join(dataDir, "sealpost.db");
  const writer = openSqlite(path);
  const reader = openSqlite(path, { reader: true });
  const sync = new WalSync(path, opts.syncFile);
  const kysely = new Kysely<Database>({ dialect: new SplitSqliteDialect({ writer, reader, sync }) });
  return { kysely, dialect: "sqlite", description: `sqlite:${path}`, close: () => kysely.destroy() };
}

/** Blob columns come back as Uint8Array (SQLite) or Buffer (pg); callers want Buffer. */
export function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
