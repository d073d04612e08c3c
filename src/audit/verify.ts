import type { AuditLogTable } from "../store/schema.ts";
import { entryHash, GENESIS_HASH } from "./hash.ts";
import type { ChainProblem, VerifyReport } from "./types.ts";

/**
 * Verifies a hash chain (ADR 0009 §3), walking its entries in the order given (seq order)
 * and recomputing each hash. The first entry at which the chain breaks is named, with what
 * happened to it:
 *
 * - `changed`: its hash does not match its fields (one field of one row was edited);
 * - `removed`: a gap in seq (named: the first missing seq, id null), or an entry whose
 *   prev_hash names a hash that is nowhere in the chain (the entry it followed is gone);
 * - `inserted`: an entry that is consistent and linked, but the entry after it links past
 *   it to the one before (named: the inserted entry), or an entry beyond the head;
 * - `reordered`: an entry whose prev_hash is the hash of another entry of the chain than
 *   the one before it (two rows swapped, with or without their seq), or a seq out of order
 *   (lines of an export moved);
 * - `head_mismatch`: the last entry is not the chain's head (seq and hash in audit_heads);
 * - `bad_checkpoint`: a signed checkpoint whose signature fails, or that the chain does not
 *   pass through.
 *
 * To tell these apart it remembers the last WINDOW entries and, once something is off,
 * reads up to WINDOW entries ahead; memory stays bounded on a chain of any length.
 */
const WINDOW = 1024;

export interface FirstBad {
  seq: number;
  id: string | null;
  problem: ChainProblem;
}

export interface CheckpointClaim {
  seq: number;
  hash: string;
  /** Whether its signature verified (audit/checkpoint.ts). */
  signatureOk: boolean;
}

export interface VerifyOptions {
  /** The chain's name for the report when it has no entries. */
  chain?: string;
  /** The head the chain must end at (audit_heads). */
  head?: { seq: number; hash: string };
  /**
   * `genesis` (default): the chain starts at seq 1 after 64 zeros. `first`: a slice (an
   * export with --from): trust the first entry's position and prev_hash, verify from there.
   */
  start?: "genesis" | "first";
  checkpoints?: readonly CheckpointClaim[];
}

interface Link {
  seq: number;
  hash: string;
}

export class ChainVerifier {
  readonly #opts: VerifyOptions;
  #chain: string;
  #prev: Link | null;
  /** The last WINDOW verified entries, oldest first. */
  readonly #recent: AuditLogTable[] = [];
  /** The entry where the chain broke and the entries read after it. */
  #suspect: { entry: AuditLogTable; ahead: AuditLogTable[] } | null = null;
  #bad: FirstBad | null = null;
  #checked = 0;
  readonly #checkpoints: Map<number, CheckpointClaim>;

  constructor(opts: VerifyOptions = {}) {
    this.#opts = opts;
    this.#chain = opts.chain ?? "";
    this.#prev = opts.start === "first" ? null : { seq: 0, hash: GENESIS_HASH };
    this.#checkpoints = new Map((opts.checkpoints ?? []).map((c) => [c.seq, c]));
  }

  /** True once the outcome is known: the caller may stop reading. */
  get decided(): boolean {
    return this.#bad !== null;
  }

  push(entry: AuditLogTable): void {
    if (this.#bad !== null) return;
    if (this.#chain === "") this.#chain = entry.chain;
    if (this.#suspect !== null) {
      this.#suspect.ahead.push(entry);
      if (this.#suspect.ahead.length >= WINDOW) this.#decide();
      return;
    }
    if (this.#prev === null) this.#prev = { seq: entry.seq - 1, hash: entry.prev_hash };
    const head = this.#opts.head;
    if (head !== undefined && entry.seq > head.seq && this.#prev.seq >= head.seq) {
      this.#bad = { seq: entry.seq, id: entry.id, problem: "inserted" };
      return;
    }
    if (entry.seq === this.#prev.seq + 1 && consistent(entry) && entry.prev_hash === this.#prev.hash) {
      this.#accept(entry);
      return;
    }
    this.#suspect = { entry, ahead: [] };
  }

  finish(): VerifyReport {
    if (this.#suspect !== null && this.#bad === null) this.#decide();
    if (this.#bad === null) this.#checkEnd();
    return { ok: this.#bad === null, chain: this.#chain, checked: this.#checked, firstBad: this.#bad };
  }

  #accept(entry: AuditLogTable): void {
    const cp = this.#checkpoints.get(entry.seq);
    if (cp !== undefined && (!cp.signatureOk || cp.hash !== entry.hash)) {
      this.#bad = { seq: entry.seq, id: entry.id, problem: "bad_checkpoint" };
      return;
    }
    this.#checkpoints.delete(entry.seq);
    this.#recent.push(entry);
    if (this.#recent.length > WINDOW) this.#recent.shift();
    this.#prev = { seq: entry.seq, hash: entry.hash };
    this.#checked++;
  }

  #decide(): void {
    const suspect = this.#suspect;
    const prev = this.#prev;
    if (suspect === null || prev === null) return;
    this.#bad = classify(suspect.entry, prev, this.#recent, suspect.ahead);
  }

  /** The chain ended: it must end at the head, and pass every checkpoint. */
  #checkEnd(): void {
    const head = this.#opts.head;
    const last = this.#recent.at(-1);
    const end = this.#prev ?? { seq: 0, hash: GENESIS_HASH };
    if (head !== undefined) {
      if (end.seq < head.seq) {
        this.#bad = { seq: end.seq + 1, id: null, problem: "removed" };
        return;
      }
      if (end.seq === head.seq && end.hash !== head.hash) {
        this.#bad = { seq: head.seq, id: last?.seq === head.seq ? last.id : null, problem: "head_mismatch" };
        return;
      }
    }
    // A checkpoint past the end names entries that are gone (or were never there).
    const [missed] = [...this.#checkpoints.values()]
      .filter((c) => c.seq > end.seq)
      .sort((a, b) => a.seq - b.seq);
    if (missed !== undefined) this.#bad = { seq: missed.seq, id: null, problem: "bad_checkpoint" };
  }
}

function consistent(entry: AuditLogTable): boolean {
  return entryHash(entry.prev_hash, entry) === entry.hash;
}

/**
 * What happened at `entry`, the first that does not follow `prev`; `recent` are the
 * entries before it (the last is `prev`'s), `ahead` those read after it.
 */
function classify(
  entry: AuditLogTable,
  prev: Link,
  recent: readonly AuditLogTable[],
  ahead: readonly AuditLogTable[],
): FirstBad {
  const named = (problem: ChainProblem): FirstBad => ({ seq: entry.seq, id: entry.id, problem });
  if (entry.seq <= prev.seq) return named("reordered");
  if (entry.seq > prev.seq + 1)
    // The missing seq further on: lines moved (an export); nowhere: gone.
    return ahead.some((e) => e.seq === prev.seq + 1)
      ? named("reordered")
      : { seq: prev.seq + 1, id: null, problem: "removed" };
  // The entry before `prev`: if `entry` links to it past `prev`, and `prev` links to it
  // too, `prev` was slipped in between.
  const p = recent.at(-1);
  const pp = recent.at(-2);
  const ppHash = pp?.hash ?? (p !== undefined && p.seq === 1 ? GENESIS_HASH : undefined);
  if (p !== undefined && ppHash !== undefined && entry.prev_hash === ppHash && p.prev_hash === ppHash)
    return { seq: p.seq, id: p.id, problem: "inserted" };
  const elsewhere = (hash: string) =>
    hash !== prev.hash && (recent.some((e) => e.hash === hash) || ahead.some((e) => e.hash === hash));
  if (!consistent(entry))
    return named(entry.prev_hash !== prev.hash && elsewhere(entry.prev_hash) ? "reordered" : "changed");
  return named(elsewhere(entry.prev_hash) ? "reordered" : "removed");
}

/** Verifies entries held in memory (an export file, a test). */
export function verifyChain(
  entries: Iterable<AuditLogTable>,
  head?: { seq: number; hash: string },
  opts: Omit<VerifyOptions, "head"> = {},
): VerifyReport {
  const v = new ChainVerifier({ ...opts, ...(head === undefined ? {} : { head }) });
  for (const e of entries) {
    v.push(e);
    if (v.decided) break;
  }
  return v.finish();
}

/** Verifies entries read a page at a time (the store). */
export async function verifyChainStream(
  entries: AsyncIterable<AuditLogTable>,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const v = new ChainVerifier(opts);
  for await (const e of entries) {
    v.push(e);
    if (v.decided) break;
  }
  return v.finish();
}
