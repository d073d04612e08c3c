import { open } from "node:fs/promises";

/**
 * Durability for SQLite commits made with `synchronous = NORMAL` (ADR 0013): `fdatasync` of
 * the WAL file on libuv's thread pool, so the event loop never waits on the disk.
 *
 * `committed()` after each COMMIT resolves once a sync that started after it has completed.
 * Commits that end while a sync runs share the next one: at most one runs and one waits.
 * `durable()` resolves once every commit so far is on disk (at once when none is pending).
 * A failed sync fails every later call: the kernel may have dropped the unwritten pages, so a
 * later sync that succeeds would prove nothing.
 */
export type SyncFile = (path: string) => Promise<void>;

/** fdatasync of `path`, or of `fallback` when `path` does not exist. */
async function syncFirstExisting(path: string, fallback: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    handle = await open(fallback, "r");
  }
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export class WalSync {
  readonly #sync: () => Promise<void>;
  /** A commit ended since the last sync started. */
  #dirty = false;
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #failed: unknown = null;

  /** `dbPath`: the database file; its `-wal` file is synced. */
  constructor(dbPath: string, syncFile?: SyncFile) {
    const wal = `${dbPath}-wal`;
    this.#sync = syncFile === undefined ? () => syncFirstExisting(wal, dbPath) : () => syncFile(wal);
  }

  /** Call after a COMMIT returned: resolves once that commit is on disk. */
  committed(): Promise<void> {
    this.#dirty = true;
    return this.durable();
  }

  /** Resolves once every commit made so far is on disk. */
  durable(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (this.#queued !== null) return this.#queued;
    if (!this.#dirty) return this.#running ?? Promise.resolve();
    const running = this.#running;
    if (running === null) return this.#start();
    // The running sync may have started before the latest commit: one more after it.
    const queued = running
      .catch(() => {})
      .then(() => {
        this.#queued = null;
        return this.#start();
      });
    this.#queued = queued;
    return queued;
  }

  /** True while some commit is not yet known to be on disk. */
  get pending(): boolean {
    return this.#dirty || this.#running !== null;
  }

  #start(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    this.#dirty = false;
    const run = this.#sync().then(
      () => {
        if (this.#running === run) this.#running = null;
      },
      (err: unknown) => {
        this.#failed ??= err;
        if (this.#running === run) this.#running = null;
        throw err;
      },
    );
    this.#running = run;
    return run;
  }
}
