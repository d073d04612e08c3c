import type { StatsRow } from "../store/stats.ts";

/**
 * Turns the grouped counts of the store into the API's buckets (ADR 0011 §4): one bucket
 * per interval from `from` (already rounded down) up to `to`, zero-filled, and the totals.
 * `portal` counts `portal_notified`; `by_encryption` and `by_tls_version` count `delivered`
 * events by the protection and TLS version recorded with them.
 */
export const COUNTED_TYPES = [
  "sent",
  "delivered",
  "deferred",
  "bounced",
  "failed",
  "suppressed",
  "cancelled",
  "portal_notified",
  "opened",
] as const;

const FIELD: Readonly<Record<(typeof COUNTED_TYPES)[number], keyof Counts>> = {
  sent: "sent",
  delivered: "delivered",
  deferred: "deferred",
  bounced: "bounced",
  failed: "failed",
  suppressed: "suppressed",
  cancelled: "cancelled",
  portal_notified: "portal",
  opened: "opened",
};

export const ENCRYPTION_MODES = ["tls", "smime", "pgp", "portal", "none"] as const;

export interface Counts {
  sent: number;
  delivered: number;
  deferred: number;
  bounced: number;
  failed: number;
  suppressed: number;
  cancelled: number;
  portal: number;
  opened: number;
  by_encryption: Record<(typeof ENCRYPTION_MODES)[number], number>;
  by_tls_version: Record<string, number>;
}

export interface Bucket extends Counts {
  start: string;
}

function emptyCounts(): Counts {
  return {
    sent: 0,
    delivered: 0,
    deferred: 0,
    bounced: 0,
    failed: 0,
    suppressed: 0,
    cancelled: 0,
    portal: 0,
    opened: 0,
    by_encryption: { tls: 0, smime: 0, pgp: 0, portal: 0, none: 0 },
    by_tls_version: {},
  };
}

function add(into: Counts, row: Pick<StatsRow, "type" | "encryption" | "tls_version" | "n">): void {
  const field = FIELD[row.type as keyof typeof FIELD] as keyof Counts | undefined;
  if (field === undefined) return;
  (into[field] as number) += row.n;
  if (row.type !== "delivered") return;
  const mode = row.encryption as keyof Counts["by_encryption"] | null;
  if (mode !== null && mode in into.by_encryption) into.by_encryption[mode] += row.n;
  if (row.tls_version !== null)
    into.by_tls_version[row.tls_version] = (into.by_tls_version[row.tls_version] ?? 0) + row.n;
}

/** How many buckets `[from, to)` spans at this interval (`from` rounded down first). */
export function bucketCount(from: number, to: number, intervalMs: number): number {
  const start = Math.floor(from / intervalMs) * intervalMs;
  return Math.ceil((to - start) / intervalMs);
}

export function assemble(
  rows: readonly StatsRow[],
  from: number,
  to: number,
  intervalMs: number,
): { buckets: Bucket[]; totals: Counts } {
  const first = Math.floor(from / intervalMs);
  const n = bucketCount(from, to, intervalMs);
  const counts = Array.from({ length: n }, emptyCounts);
  const totals = emptyCounts();
  for (const row of rows) {
    const c = counts[row.bucket - first];
    if (c === undefined) continue;
    add(c, row);
    add(totals, row);
  }
  return {
    buckets: counts.map((c, i) => ({ start: new Date((first + i) * intervalMs).toISOString(), ...c })),
    totals,
  };
}
