import type { DatabaseSync } from "node:sqlite";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
  SqliteDialect,
  type TransactionSettings,
} from "kysely";
import type { WalSync } from "./wal-sync.ts";

/**
 * Kysely's SQLite driver, rebuilt for a server that must not stall (ADR 0012).
 *
 * Kysely's own driver puts every query of the process through one connection, one at a
 * time, and node:sqlite is synchronous. So a request's key lookup waited behind whatever
 * transaction was open (a group commit and its fsync), and a connection that found the
 * database's one write lock held by another (the delivery worker's thread) slept inside
 * SQLite's busy handler with the whole event loop. Here:
 *
 * - **Two connections.** Reads outside a transaction (`select …`) go to a read-only
 *   connection at once: in WAL mode they see the last commit and never wait for a writer.
 *   Transactions and writes take turns on the write connection (an async mutex).
 * - **The write lock is waited for on a timer.** The connections have no busy timeout; a
 *   write transaction begins with `BEGIN IMMEDIATE` (the lock is taken at the start, so
 *   nothing inside it finds the database busy), retried on SQLITE_BUSY after 0-5 ms
 *   steps, while the event loop keeps parsing, sealing and answering. A write outside a
 *   transaction that found the database busy did nothing, and is retried the same way.
 * - A read transaction (`repeatable read`, `read only`: one snapshot for several reads)
 *   begins deferred on the write connection, so no other statement of this process can
 *   slip into its snapshot.
 *
 * The wait is bounded like the busy timeout it replaces; after that the busy error is the
 * caller's.
 *
 * Commits do not sync on the event loop (ADR 0013): the write connection runs with
 * `synchronous = NORMAL`, and a commit resolves once `WalSync` has synced the WAL on the
 * thread pool. The turn is released first, so the next transaction writes while the fsync
 * runs. A read outside a write transaction returns only once every commit it could have
 * seen is synced: nothing unsynced is shown. After a failed sync every statement fails.
 */
export const BUSY_WAIT_MS = 10_000;

const SQLITE_BUSY = 5;
/** Retry delays: short while the holder is likely mid-commit, then a steady poll. */
const DELAYS_MS = [0, 1, 1, 2, 2, 4];
const MAX_DELAY_MS = 5;

function isBusy(err: unknown): boolean {
  // node:sqlite reports the primary result code (extended codes off): 5 for every BUSY_*.
  return (err as { errcode?: unknown } | null)?.errcode === SQLITE_BUSY;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => (ms === 0 ? setImmediate(resolve) : setTimeout(resolve, ms)));

/** Runs `attempt` until it does not fail with SQLITE_BUSY, or BUSY_WAIT_MS have passed. */
export async function retryWhileBusy<R>(attempt: () => R | Promise<R>, waitMs = BUSY_WAIT_MS): Promise<R> {
  const deadline = performance.now() + waitMs;
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isBusy(err) || performance.now() >= deadline) throw err;
    }
    await sleep(DELAYS_MS[i] ?? MAX_DELAY_MS);
  }
}

/** A FIFO async mutex: the write connection's turn. */
class Turn {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves with the release function once every earlier holder has released. */
  take(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return ready;
  }
}

export interface SqliteConnections {
  /** The read-write connection. */
  writer: { database: SqliteDatabase; raw: DatabaseSync };
  /** A read-only (`query_only`) connection to the same file. */
  reader: { database: SqliteDatabase };
  /** Makes the write connection's commits durable. */
  sync: WalSync;
}

/** Statements that only read: sent to the read connection when outside a transaction. */
const READ = /^\s*select\s/i;
function isRead(sql: string): boolean {
  return READ.test(sql);
}

function execute<R>(db: SqliteDatabase, query: CompiledQuery): QueryResult<R> {
  const stmt = db.prepare(query.sql);
  if (stmt.reader) return { rows: stmt.all(query.parameters) as R[] };
  const { changes, lastInsertRowid } = stmt.run(query.parameters);
  return {
    numAffectedRows: changes === undefined || changes === null ? undefined : BigInt(changes),
    insertId: lastInsertRowid === undefined || lastInsertRowid === null ? undefined : BigInt(lastInsertRowid),
    rows: [],
  };
}

class SplitConnection implements DatabaseConnection {
  readonly #c: SqliteConnections;
  readonly #turn: Turn;
  /** Set while this connection holds the write connection for a transaction. */
  #release: (() => void) | null = null;
  /** The open transaction only reads. */
  #readOnly = false;

  constructor(connections: SqliteConnections, turn: Turn) {
    this.#c = connections;
    this.#turn = turn;
  }

  async begin(settings: TransactionSettings): Promise<void> {
    const readOnly = settings.isolationLevel === "repeatable read" || settings.accessMode === "read only";
    if (!readOnly) this.#c.sync.check();
    const release = await this.#turn.take();
    try {
      const writer = this.#c.writer.database;
      await retryWhileBusy(() => execute(writer, CompiledQuery.raw(readOnly ? "begin" : "begin immediate")));
    } catch (err) {
      release();
      throw err;
    }
    this.#release = release;
    this.#readOnly = readOnly;
  }

  async end(sql: "commit" | "rollback"): Promise<void> {
    if (this.#release === null) return;
    const writer = this.#c.writer;
    if (sql === "commit") {
      // A failed commit keeps the turn: Kysely sends the rollback next, and it must not
      // land in another caller's transaction.
      execute(writer.database, CompiledQuery.raw("commit"));
      const readOnly = this.#readOnly;
      this.release();
      // A read transaction shows nothing until every commit it could have seen is synced.
      if (readOnly) await this.#synced();
      else await this.#c.sync.committed();
      return;
    }
    try {
      // SQLite may have rolled back already (a failed commit, an I/O error).
      if (writer.raw.isTransaction) execute(writer.database, CompiledQuery.raw("rollback"));
    } finally {
      this.release();
    }
  }

  release(): void {
    const release = this.#release;
    this.#release = null;
    this.#readOnly = false;
    release?.();
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#release !== null) return execute<R>(this.#c.writer.database, query);
    if (isRead(query.sql)) {
      const result = execute<R>(this.#c.reader.database, query);
      await this.#synced();
      return result;
    }
    this.#c.sync.check();
    const release = await this.#turn.take();
    let result: QueryResult<R>;
    try {
      result = await retryWhileBusy(() => execute<R>(this.#c.writer.database, query));
    } finally {
      release();
    }
    await this.#c.sync.committed();
    return result;
  }

  /**
   * Waits until no commit of this driver is still unsynced (ADR 0013). Called after a read
   * ran, not before: any commit the read could see had already marked the sync dirty (this
   * thread is the only one committing through this driver).
   */
  async #synced(): Promise<void> {
    if (this.#c.sync.pending) await this.#c.sync.durable();
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!isRead(query.sql)) throw new Error("the SQLite driver streams select queries only");
    const inTransaction = this.#release !== null;
    const db = inTransaction ? this.#c.writer.database : this.#c.reader.database;
    let synced = inTransaction;
    for (const row of db.prepare(query.sql).iterate(query.parameters)) {
      // The statement's snapshot is taken at its first step: wait once, before the first row.
      if (!synced) {
        await this.#synced();
        synced = true;
      }
      yield { rows: [row as R] };
    }
    if (!synced) await this.#synced();
  }
}

class SplitDriver implements Driver {
  readonly #c: SqliteConnections;
  readonly #turn = new Turn();

  constructor(connections: SqliteConnections) {
    this.#c = connections;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new SplitConnection(this.#c, this.#turn);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await (connection as SplitConnection).begin(settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SplitConnection).end("commit");
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SplitConnection).end("rollback");
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as SplitConnection).release();
  }

  async destroy(): Promise<void> {
    // Callers wait for their own commits; this covers a commit whose caller stopped waiting.
    await this.#c.sync.close();
    this.#c.reader.database.close();
    this.#c.writer.database.close();
  }
}

/** Kysely's SQLite dialect with the driver above. */
export class SplitSqliteDialect extends SqliteDialect {
  readonly #c: SqliteConnections;

  constructor(connections: SqliteConnections) {
    super({ database: connections.writer.database });
    this.#c = connections;
  }

  override createDriver(): Driver {
    return new SplitDriver(this.#c);
  }
}
