/**
 * Brute-force defence (ADR 0008 §6): failed authentications are counted per source (an
 * IPv4 address, or an IPv6 /64, since one host holds a whole /64) in a window that starts
 * at the first failure. At maxFailures the source is locked for lockoutMs; a source whose
 * lock or window has passed starts again from zero. Exempt CIDRs are never counted.
 * PostgreSQL keeps the counts in `auth_failures` for every node; SQLite keeps them in
 * memory, which is exact because one process owns a SQLite store (ADR 0001).
 */
import { isIP } from "node:net";
import { addressIn, blockListOf, type Cidr, normalizeAddress } from "../core/cidr.ts";
import {
  type FailureCount,
  type LockoutPolicy,
  pruneFailures,
  readLock,
  recordFailureRow,
} from "../store/auth-state.ts";
import type { Db } from "../store/db.ts";

/** How long a failed answer waits: 0 for the first 3 failures, then 100 ms doubling, at most 3 s. */
export function failureDelayMs(failures: number): number {
  if (failures < 4) return 0;
  return Math.min(100 * 2 ** (failures - 4), 3000);
}

/** The key failures are counted under: the IPv4 address, or the IPv6 /64 (`2001:db8:0:1::/64`). */
export function lockoutSource(address: string): string {
  const a = normalizeAddress(address);
  if (isIP(a) !== 6) return a;
  const bare = a.replace(/%.*$/, "");
  const [head = "", tail] = bare.split("::");
  const groups = (part: string): number[] =>
    part === "" ? [] : part.split(":").flatMap((g) => (g.includes(".") ? [0, 0] : [Number.parseInt(g, 16)]));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(Math.max(0, 8 - h.length - t.length)).fill(0), ...t];
  return `${all
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

export interface Lockout {
  /** Epoch ms until which the source is locked; null when it is not (or is exempt). */
  lockedUntil(address: string, now: number): Promise<number | null>;
  /** Counts a failure; an exempt address counts nothing and is never locked. */
  recordFailure(address: string, now: number): Promise<FailureCount>;
  prune(now: number): Promise<void>;
}

interface FailureRow {
  readonly windowStart: number;
  readonly failures: number;
  readonly lockedUntil: number | null;
}

/** Whether a new failure starts a fresh count: the lock, or the unlocked window, has passed. */
function restarts(row: FailureRow, now: number, policy: LockoutPolicy): boolean {
  return row.lockedUntil !== null ? row.lockedUntil <= now : row.windowStart <= now - policy.failureWindowMs;
}

/** The counting rule, also written as SQL in store/auth-state.ts (`recordFailureRow`). */
function afterFailure(row: FailureRow | undefined, now: number, policy: LockoutPolicy): FailureRow {
  const fresh = row === undefined || restarts(row, now, policy);
  const failures = fresh ? 1 : row.failures + 1;
  const windowStart = fresh ? now : row.windowStart;
  if (!fresh && row.lockedUntil !== null) return { windowStart, failures, lockedUntil: row.lockedUntil };
  return {
    windowStart,
    failures,
    lockedUntil: failures >= policy.maxFailures ? now + policy.lockoutMs : null,
  };
}

/** Where failure counts are kept: memory (SQLite) or `auth_failures` (PostgreSQL). */
export interface FailureStore {
  record(source: string, now: number): Promise<FailureCount>;
  /** The recorded lock, possibly past. */
  lock(source: string): Promise<number | null>;
  prune(now: number): Promise<void>;
}

export function memoryFailures(policy: LockoutPolicy): FailureStore & { readonly size: number } {
  const rows = new Map<string, FailureRow>();
  return {
    async record(source, now) {
      const row = afterFailure(rows.get(source), now, policy);
      rows.set(source, row);
      const locked = row.lockedUntil !== null && row.lockedUntil > now ? row.lockedUntil : null;
      return { failures: row.failures, lockedUntil: locked };
    },
    async lock(source) {
      return rows.get(source)?.lockedUntil ?? null;
    },
    async prune(now) {
      for (const [source, row] of rows) if (restarts(row, now, policy)) rows.delete(source);
    },
    get size() {
      return rows.size;
    },
  };
}

export function pgFailures(db: Db, policy: LockoutPolicy): FailureStore {
  return {
    record: (source, now) => recordFailureRow(db, source, now, policy),
    lock: (source) => readLock(db, source),
    prune: (now) => pruneFailures(db, now, policy.failureWindowMs),
  };
}

/** Groups addresses into sources and leaves exempt ones alone, over either store. */
export function createLockout(store: FailureStore, exempt: readonly Cidr[]): Lockout {
  const list = blockListOf(exempt);
  const isExempt = (address: string) => exempt.length > 0 && addressIn(list, address);
  return {
    async lockedUntil(address, now) {
      if (isExempt(address)) return null;
      const until = await store.lock(lockoutSource(address));
      return until !== null && until > now ? until : null;
    },
    async recordFailure(address, now) {
      if (isExempt(address)) return { failures: 0, lockedUntil: null };
      return store.record(lockoutSource(address), now);
    },
    prune: (now) => store.prune(now),
  };
}
