import { SealpostError } from "../core/errors.ts";

/**
 * The query of `GET /v1/stats` (ADR 0011 §4), checked into numbers: `from`/`to` ISO 8601
 * times (`to` exclusive; defaults: the end of the current interval, and 30 days or 24 hours
 * before it), `interval` day or hour, an optional `tag`. `from` is rounded down to the
 * interval (UTC); at most 744 buckets (31 days hourly, about 2 years daily). Every refusal
 * is a 422 naming the field.
 */
export const INTERVALS = { hour: 3_600_000, day: 86_400_000 } as const;
export type Interval = keyof typeof INTERVALS;

export const MAX_BUCKETS = 744;

const DEFAULT_SPAN: Readonly<Record<Interval, number>> = { hour: 86_400_000, day: 30 * 86_400_000 };
const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;
const KNOWN = new Set(["from", "to", "interval", "tag"]);

export interface StatsParams {
  /** Rounded down to the interval. */
  from: number;
  to: number;
  interval: Interval;
  intervalMs: number;
  tag: string | undefined;
}

function time(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0)
    throw new SealpostError("invalid_value", { field, detail: `${field} must be an ISO 8601 time.` });
  return ms;
}

export function statsParams(q: Record<string, unknown>, now: number): StatsParams {
  for (const k of Object.keys(q))
    if (!KNOWN.has(k))
      throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
  const interval = q.interval ?? "day";
  if (interval !== "day" && interval !== "hour")
    throw new SealpostError("invalid_value", { field: "interval", detail: "interval must be day or hour." });
  const intervalMs = INTERVALS[interval];
  // By default the buckets end with the current one, whole.
  const to = time(q.to, "to") ?? (Math.floor(now / intervalMs) + 1) * intervalMs;
  const rawFrom = time(q.from, "from") ?? Math.max(0, to - DEFAULT_SPAN[interval]);
  if (rawFrom >= to)
    throw new SealpostError("invalid_value", { field: "to", detail: "to must be after from." });
  const from = Math.floor(rawFrom / intervalMs) * intervalMs;
  if (Math.ceil((to - from) / intervalMs) > MAX_BUCKETS)
    throw new SealpostError("invalid_value", {
      field: "from",
      detail: `At most ${MAX_BUCKETS} buckets: 31 days hourly, or about 2 years daily.`,
    });
  if (q.tag !== undefined && (typeof q.tag !== "string" || !TAG.test(q.tag)))
    throw new SealpostError("invalid_value", {
      field: "tag",
      detail: "tag must be 1-64 characters of A-Z a-z 0-9 _ . : -",
    });
  return { from, to, interval, intervalMs, tag: q.tag as string | undefined };
}
