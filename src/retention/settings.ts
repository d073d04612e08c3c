import { type AuditActor, changeEntry } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import { SealpostError } from "../core/errors.ts";
import type { Db } from "../store/db.ts";
import { findRetention, type RetentionSettings, updateRetention } from "../store/retention.ts";

/**
 * An org's retention periods (ADR 0009 §4): content 1–3650 days (then crypto-shredded),
 * metadata at least as long as content and at most 36500 days (then deleted).
 */
export type { RetentionSettings };

export const CONTENT_FIELD = "content_retention_days";
export const METADATA_FIELD = "metadata_retention_days";
const CONTENT_MAX = 3650;
const METADATA_MAX = 36500;

export interface RetentionChange {
  readonly content?: number;
  readonly metadata?: number;
}

function days(raw: unknown, field: string, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "number" || !Number.isInteger(raw))
    throw new SealpostError("invalid_type", { field, detail: `${field} must be a whole number of days.` });
  if (raw < 1 || raw > max)
    throw new SealpostError("invalid_value", { field, detail: `${field} must be 1-${max}.` });
  return raw;
}

/** Either period or both, each a whole number of days in range. */
export function checkChange(raw: { [CONTENT_FIELD]?: unknown; [METADATA_FIELD]?: unknown }): RetentionChange {
  const content = days(raw[CONTENT_FIELD], CONTENT_FIELD, CONTENT_MAX);
  const metadata = days(raw[METADATA_FIELD], METADATA_FIELD, METADATA_MAX);
  if (content === undefined && metadata === undefined)
    throw new SealpostError("missing_field", {
      field: CONTENT_FIELD,
      detail: `Give ${CONTENT_FIELD}, ${METADATA_FIELD} or both.`,
    });
  if (content !== undefined && metadata !== undefined && metadata < content) throw metadataTooShort();
  return {
    ...(content === undefined ? {} : { content }),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

function metadataTooShort(): SealpostError {
  return new SealpostError("invalid_value", {
    field: METADATA_FIELD,
    detail: `${METADATA_FIELD} must be at least ${CONTENT_FIELD}.`,
  });
}

export async function getRetention(db: Db, orgId: string): Promise<RetentionSettings> {
  const found = await findRetention(db, orgId);
  if (found === undefined) throw new SealpostError("not_found");
  return found;
}

/** Applies a checked change and records `retention.update` before answering. */
export async function setRetention(
  deps: { db: Db; audit: AuditLog },
  orgId: string,
  change: RetentionChange,
  actor: AuditActor,
): Promise<RetentionSettings> {
  const updated = await updateRetention(deps.db, orgId, change);
  if (updated === undefined) {
    // Either the org is gone or the change would leave metadata shorter than content.
    await getRetention(deps.db, orgId);
    throw metadataTooShort();
  }
  await deps.audit.recordNow(
    changeEntry(
      actor,
      orgId,
      "retention.update",
      { type: "org", id: orgId },
      { content_days: updated.content_retention_days, metadata_days: updated.metadata_retention_days },
    ),
  );
  return updated;
}

const UNIT_DAYS: Readonly<Record<string, number>> = { d: 1, w: 7, y: 365 };

/** A CLI period: `30d`, `4w`, `6y` or a plain number of days (6y is 2190 days). */
export function parsePeriod(text: string, field: string): number {
  const m = /^(\d{1,6})([dwy]?)$/.exec(text.trim());
  if (m === null)
    throw new SealpostError("invalid_value", {
      field,
      detail: `${field} must be a number of days, or <n>d, <n>w or <n>y.`,
    });
  return Number(m[1]) * (UNIT_DAYS[m[2] || "d"] ?? 1);
}
