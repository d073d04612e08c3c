import { SealpostError } from "../core/errors.ts";
import type { ReportPeriod } from "./types.ts";

export const DAY_MS = 86_400_000;
/** A report covers at most a year (a leap year's worth): longer periods are several reports. */
export const MAX_PERIOD_DAYS = 366;

/**
 * A date (`2026-01-01`, midnight UTC) or a date-time with `Z` or an offset
 * (`2026-01-01T08:00:00Z`, `2026-01-01T08:00+01:00`). A time without a zone is refused:
 * whose local time it meant cannot be known.
 */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

function inRange(part: string | undefined, max: number): boolean {
  return part === undefined || Number(part) <= max;
}

/** Epoch ms of an ISO 8601 instant, or null when `raw` is not one (including 2026-02-30, 24:00). */
export function parseInstant(raw: string): number | null {
  const m = ISO.exec(raw);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  if (!inRange(h, 23) || !inRange(mi, 59) || !inRange(s, 59) || !inRange(oh, 23) || !inRange(om, 59))
    return null;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : at;
}

function instant(raw: unknown, field: "from" | "to"): number {
  if (raw === undefined || raw === "") throw new SealpostError("missing_field", { field });
  const at = typeof raw === "string" ? parseInstant(raw) : null;
  if (at === null)
    throw new SealpostError("invalid_value", {
      field,
      detail: `${field} must be an ISO 8601 date or date-time with Z or an offset.`,
    });
  return at;
}

/** The period `[from, to)` of a report request; coded 422s for a bad or too long one. */
export function parsePeriod(from: unknown, to: unknown): ReportPeriod {
  const period = { from: instant(from, "from"), to: instant(to, "to") };
  if (period.to <= period.from)
    throw new SealpostError("invalid_value", { field: "to", detail: "to must be after from." });
  if (period.to - period.from > MAX_PERIOD_DAYS * DAY_MS)
    throw new SealpostError("invalid_value", {
      field: "to",
      detail: `A report covers at most ${MAX_PERIOD_DAYS} days.`,
    });
  return period;
}

export type ReportFormat = "json" | "csv";

export function parseFormat(raw: unknown): ReportFormat {
  if (raw === undefined || raw === "json") return "json";
  if (raw === "csv") return "csv";
  throw new SealpostError("invalid_value", { field: "format", detail: "format must be json or csv." });
}
