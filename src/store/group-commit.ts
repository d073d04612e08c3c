/**
 * Group commit: callers hand over units of work and get a promise that settles when
 * their unit is durably committed. Units arriving while a commit is in progress are
 * written together in the next transaction, so the cost of the sync to disk is shared
 * and durability does not cap throughput. If a combined transaction fails, each unit
 * is retried alone so one bad unit cannot fail its neighbours. `submitAll` hands over
 * several units that must be written in the same transaction (a batch of messages).
 *
 * `handOff` lets another writer carry the waiting units in a transaction of its own (the
 * audit entries of a request ride in the next submission commit, ADR 0009 §2): one commit
 * and one sync instead of two. If that transaction fails, the units come back and are
 * written here.
 */
interface Pending<T> {
  items: readonly T[];
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Given back by a failed handoff: written by this committer only. */
  returned: boolean;
}

/** Units taken by another writer: `settle` once its transaction has ended. */
export interface Handoff<T> {
  readonly items: readonly T[];
  /** `true`: committed with the other writer's transaction; `false`: give them back. */
  settle(committed: boolean): void;
}

export class GroupCommitter<T> {
  readonly #write: (items: readonly T[]) => Promise<void>;
  readonly #maxBatch: number;
  readonly #lingerMs: number;
  #pending: Pending<T>[] = [];
  #draining = false;
  #timer: NodeJS.Timeout | null = null;
  #idle: Promise<void> = Promise.resolve();
  /** Settles as each outstanding handoff does. */
  readonly #handoffs = new Set<Promise<void>>();

  /**
   * `lingerMs`: how long the first unit of a batch waits for company. 0 (the default) for
   * callers waiting on an answer (the API's 202); a few ms where nobody waits (worker
   * results, buffered audit entries), which turns many small commits into few large ones.
   */
  constructor(write: (items: readonly T[]) => Promise<void>, maxBatch = 256, lingerMs = 0) {
    this.#write = write;
    this.#maxBatch = maxBatch;
    this.#lingerMs = lingerMs;
  }

  /** `now`: skip the linger, a caller is waiting. */
  submit(item: T, opts: { now?: boolean } = {}): Promise<void> {
    return this.submitAll([item], opts);
  }

  /** Several units as one: written in one transaction, never split, all or none. */
  submitAll(items: readonly T[], opts: { now?: boolean } = {}): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ items, resolve, reject, returned: false });
      this.#kick(opts.now === true || this.#lingerMs === 0);
    });
  }

  /** Resolves once everything submitted so far has settled (a linger is cut short). */
  async flushed(): Promise<void> {
    for (;;) {
      if (this.#pending.length > 0) this.#kick(true);
      await this.#idle;
      if (this.#handoffs.size === 0 && this.#pending.length === 0) return;
      await Promise.all(this.#handoffs);
    }
  }

  /** The units waiting for the next transaction, for another writer's; null if none. */
  handOff(): Handoff<T> | null {
    const taken = this.#pending.filter((p) => !p.returned);
    if (taken.length === 0) return null;
    this.#pending = this.#pending.filter((p) => p.returned);
    let done!: () => void;
    const outstanding = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.#handoffs.add(outstanding);
    let settled = false;
    return {
      items: taken.flatMap((p) => p.items),
      settle: (committed) => {
        if (settled) return;
        settled = true;
        if (committed) for (const p of taken) p.resolve();
        else {
          for (const p of taken) p.returned = true;
          this.#pending.unshift(...taken);
          this.#kick(true);
        }
        this.#handoffs.delete(outstanding);
        done();
      },
    };
  }

  /** Starts a drain now (`urgent`) or after the linger, unless one is already coming. */
  #kick(urgent: boolean): void {
    if (this.#draining) return;
    if (this.#timer !== null) {
      if (!urgent) return;
      clearTimeout(this.#timer);
      this.#timer = null;
    } else if (!urgent) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#kick(true);
      }, this.#lingerMs);
      return;
    }
    this.#draining = true;
    this.#idle = new Promise<void>((done) => {
      setImmediate(() => this.#drain().finally(done));
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#takeBatch();
      try {
        await this.#write(batch.flatMap((p) => p.items));
        for (const p of batch) p.resolve();
      } catch (err) {
        if (batch.length === 1) {
          batch[0]?.reject(err);
          continue;
        }
        for (const p of batch) {
          try {
            await this.#write(p.items);
            p.resolve();
          } catch (single) {
            p.reject(single);
          }
        }
      }
    }
    // In the same turn as the last check: a unit submitted from now on starts a new drain.
    this.#draining = false;
  }

  /** Up to maxBatch units, without splitting a group (a group larger than that goes alone). */
  #takeBatch(): Pending<T>[] {
    let units = 0;
    let n = 0;
    for (const p of this.#pending) {
      if (n > 0 && units + p.items.length > this.#maxBatch) break;
      units += p.items.length;
      n++;
    }
    return this.#pending.splice(0, n);
  }
}

/** Splits rows so one INSERT stays under both databases' parameter limits. */
export function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
