import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Adapts Node's built-in `node:sqlite` to the better-sqlite3 shape Kysely's SqliteDialect
 * expects. node:sqlite needs no native build, so `npm install` works on any machine.
 *
 * Durability: WAL with synchronous=NORMAL, and the driver syncs the WAL on the thread
 * pool before a commit resolves (wal-sync.ts, ADR 0013): an acknowledged write survives
 * power loss, and the event loop never waits on the disk.
 *
 * No busy timeout: a connection that finds the write lock taken fails at once, and the
 * driver (sqlite-driver.ts) waits on a timer and retries, so the event loop never sleeps
 * inside SQLite while another thread commits.
 */
const CACHE_LIMIT = 256;

function toParam(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value as SQLInputValue;
}

function adapt(stmt: StatementSync): SqliteStatement {
  const reader = stmt.columns().length > 0;
  return {
    reader,
    all: (params) => stmt.all(...params.map(toParam)),
    run: (params) => stmt.run(...params.map(toParam)),
    iterate: (params) => stmt.iterate(...params.map(toParam)),
  };
}

/** The read-write connection (first: it puts a new file in WAL mode) or a read-only one. */
export function openSqlite(
  path: string,
  opts: { reader?: boolean } = {},
): { database: SqliteDatabase; raw: DatabaseSync } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const raw = new DatabaseSync(path);
  if (opts.reader === true) raw.exec("PRAGMA query_only = ON");
  else {
    const mode = raw.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode?: string } | undefined;
    // NORMAL is durable only with the WAL synced after each commit (wal-sync.ts). Where the
    // file system cannot do WAL, SQLite keeps a rollback journal: sync inside COMMIT then.
    raw.exec(`PRAGMA synchronous = ${mode?.journal_mode === "wal" ? "NORMAL" : "FULL"}`);
    raw.exec("PRAGMA foreign_keys = ON");
  }
  raw.exec("PRAGMA busy_timeout = 0");
  const cache = new Map<string, SqliteStatement>();
  const database: SqliteDatabase = {
    close: () => raw.close(),
    prepare: (sql) => {
      let stmt = cache.get(sql);
      if (stmt === undefined) {
        stmt = adapt(raw.prepare(sql));
        if (cache.size >= CACHE_LIMIT) {
          const first = cache.keys().next();
          if (!first.done) cache.delete(first.value);
        }
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
  return { database, raw };
}
