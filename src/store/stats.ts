import { type RawBuilder, sql } from "kysely";
import type { Dialect } from "./db.ts";
import { type OrgScope, selectOrg } from "./scope.ts";

/**
 * The stats read (ADR 0011 §4): one org's events in `[from, to)` counted in SQL, grouped by
 * bucket (`created_at / interval` — integer division of a non-negative bigint, the same on
 * SQLite and PostgreSQL), type, and the delivery columns `encryption` and `tls_version`.
 * The tag filter joins the event's message and matches its JSON `tags` list; that is the
 * one dialect-specific part and it stays here.
 */
export interface StatsQuery {
  from: number;
  to: number;
  /** Bucket width in ms: an hour or a day (a fixed, validated set). */
  intervalMs: number;
  types: readonly string[];
  tag?: string;
}

export interface StatsRow {
  /** `created_at / intervalMs`: the bucket starts at bucket × intervalMs. */
  bucket: number;
  type: string;
  encryption: string | null;
  tls_version: string | null;
  n: number;
}

function hasTag(dialect: Dialect, tag: string): RawBuilder<boolean> {
  return dialect === "postgres"
    ? sql<boolean>`(${sql.ref("messages.tags")})::jsonb @> jsonb_build_array(${tag}::text)`
    : sql<boolean>`exists (select 1 from json_each(${sql.ref("messages.tags")}) where json_each.value = ${tag})`;
}

export async function eventCounts(scope: OrgScope, q: StatsQuery): Promise<StatsRow[]> {
  if (!Number.isSafeInteger(q.intervalMs) || q.intervalMs <= 0) throw new RangeError("bad stats interval");
  const bucket = sql<number>`${sql.ref("events.created_at")} / ${sql.raw(String(q.intervalMs))}`;
  let query = selectOrg(scope, "events")
    .select([
      bucket.as("bucket"),
      "events.type",
      "events.encryption",
      "events.tls_version",
      (eb) => eb.fn.countAll<number>().as("n"),
    ])
    .where("events.created_at", ">=", q.from)
    .where("events.created_at", "<", q.to)
    .where("events.type", "in", [...q.types]);
  if (q.tag !== undefined)
    query = query
      .innerJoin("messages", (j) =>
        j.onRef("messages.id", "=", "events.message_id").onRef("messages.org_id", "=", "events.org_id"),
      )
      .where(hasTag(scope.db.dialect, q.tag));
  const rows = await query
    .groupBy([bucket, "events.type", "events.encryption", "events.tls_version"])
    .execute();
  return rows.map((r) => ({
    bucket: Number(r.bucket),
    type: r.type,
    encryption: r.encryption ?? null,
    tls_version: r.tls_version ?? null,
    n: Number(r.n),
  }));
}
