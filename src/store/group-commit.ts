/**
 * Group commit: callers hand over units of work and get a promise that settles when
 * their unit is durably committed. Units arriving while a commit is in progress are
 * written together in the next transaction, so the cost of the sync to disk is shared
 * and durability does not cap throughput. If a combined transaction fails, each unit
 * is retried alone so one bad unit cannot fail its neighbours. `submitAll` hands over
 * several units that must be written in the same transaction (a batch of messages).
 */
interface Pending<T> {
  items: readonly T[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<T> {
  readonly #write: (items: readonly T[]) => Promise<void>;
  readonly #maxBatch: number;
  readonly #lingerMs: number;
  #pending: Pending<T>[] = [];
  #running = false;
  #idle: Promise<void> = Promise.resolve();

  /**
   * `lingerMs`: how long the first unit of a batch waits for company. 0 (the default) for
   * callers waiting on an answer (the API's 202); a few ms where nobody waits (worker
   * results), which turns many small commits into few large ones.
   */
  constructor(write: (items: readonly T[]) => Promise<void>, maxBatch = 256, lingerMs = 0) {
    this.#write = write;
    this.#maxBatch = maxBatch;
    this.#lingerMs = lingerMs;
  }

  submit(item: T): Promise<void> {
    return this.submitAll([item]);
  }

  /** Several units as one: written in one transaction, never split, all or none. */
  submitAll(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ items, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        this.#idle = new Promise<void>((done) => {
          const start = () => this.#drain().finally(done);
          if (this.#lingerMs > 0) setTimeout(start, this.#lingerMs);
          else setImmediate(start);
        });
      }
    });
  }

  /** Resolves once everything submitted so far has settled. */
  flushed(): Promise<void> {
    return this.#idle;
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
    this.#running = false;
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
