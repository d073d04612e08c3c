import { closeSync, fdatasync, open as fsOpen } from "node:fs";
import { promisify } from "node:util";

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

const openFile = promisify(fsOpen);
const datasync = promisify(fdatasync);

/**
 * fdatasync of the WAL file through one descriptor kept open. SQLite deletes the WAL only
 * when the last connection to the database closes, and this process keeps its own open;
 * otherwise it rewinds or truncates it, which keeps the inode. It holds no POSIX lock on the
 * `-wal` file, so our descriptor cannot drop one. (A descriptor on the database file itself
 * would: closing it drops every lock the process holds there, so it is never opened.) Until
 * the WAL exists, no commit has written a frame, and there is nothing to sync.
 */
class WalFile {
  readonly #wal: string;
  #fd: number | null = null;

  constructor(dbPath: string) {
    this.#wal = `${dbPath}-wal`;
  }

  async sync(): Promise<void> {
    if (this.#fd === null) {
      try {
        this.#fd = await openFile(this.#wal, "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
    }
    await datasync(this.#fd);
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

export class WalSync {
  readonly #sync: () => Promise<void>;
  readonly #file: WalFile | null;
  /** A commit ended since the last sync started. */
  #dirty = false;
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #failed: unknown = null;

  /** `dbPath`: the database file; its `-wal` file is synced. */
  constructor(dbPath: string, syncFile?: SyncFile) {
    const file = syncFile === undefined ? new WalFile(dbPath) : null;
    this.#file = file;
    this.#sync = file === null ? () => (syncFile as SyncFile)(`${dbPath}-wal`) : () => file.sync();
  }

  /** Releases the WAL's descriptor, once every commit is on disk. */
  async close(): Promise<void> {
    await this.durable().catch(() => {});
    this.#file?.close();
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

  /** True while some commit is not yet known to be on disk, and for good after a failed sync. */
  get pending(): boolean {
    return this.#failed !== null || this.#dirty || this.#running !== null;
  }

  /** Throws the sync failure, if one happened: nothing more may be written. */
  check(): void {
    if (this.#failed !== null) throw this.#failed;
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
