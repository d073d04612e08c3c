import { SealpostError } from "../core/errors.ts";

/**
 * Cursor pagination shared by every list route: newest first, `limit` items, an opaque
 * `cursor` that is the base64url of the last id seen. Lists ask the store for limit + 1
 * rows to know whether there is a next page.
 */
export interface Page {
  limit: number;
  before: string | undefined;
}

export function pageQuery(
  q: { limit?: unknown; cursor?: unknown },
  prefix: string,
  max = 100,
  fallback = 20,
): Page {
  const limit = q.limit === undefined ? fallback : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new SealpostError("invalid_value", { field: "limit", detail: `limit must be 1-${max}.` });
  if (q.cursor === undefined) return { limit, before: undefined };
  const before = typeof q.cursor === "string" ? Buffer.from(q.cursor, "base64url").toString("utf8") : "";
  if (!new RegExp(`^${prefix}_[0-9a-z]{26}$`).test(before))
    throw new SealpostError("invalid_cursor", { field: "cursor" });
  return { limit, before };
}

/** The page's rows and the cursor of the next page (null on the last one). */
export function pageOf<T>(
  rows: readonly T[],
  limit: number,
  idOf: (row: T) => string,
): { page: T[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    page,
    next: rows.length > limit && last !== undefined ? Buffer.from(idOf(last)).toString("base64url") : null,
  };
}
