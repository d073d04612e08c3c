import type { EventsTable } from "./schema.ts";
import { type OrgScope, selectOrg } from "./scope.ts";

/**
 * The events API's read (ADR 0011 §2): one org's events, newest first, filtered by type,
 * message and time. An event's id is made from its `created_at` (a ULID), so ordering by
 * `(created_at, id)` — the `(org_id, created_at, id)` index — is ordering by id, and the
 * cursor (`before`, the previous page's last id) can compare ids alone.
 */
export interface EventFilter {
  types?: readonly string[];
  messageId?: string;
  /** Inclusive lower bound on created_at (epoch ms). */
  since?: number;
  /** Exclusive upper bound on created_at (epoch ms). */
  until?: number;
  /** Events with an id below this one (the previous page's last). */
  before?: string;
  limit: number;
}

export async function listEvents(scope: OrgScope, f: EventFilter): Promise<EventsTable[]> {
  let q = selectOrg(scope, "events").selectAll("events");
  if (f.types !== undefined && f.types.length > 0) q = q.where("events.type", "in", [...f.types]);
  if (f.messageId !== undefined) q = q.where("events.message_id", "=", f.messageId);
  if (f.since !== undefined) q = q.where("events.created_at", ">=", f.since);
  if (f.until !== undefined) q = q.where("events.created_at", "<", f.until);
  if (f.before !== undefined) q = q.where("events.id", "<", f.before);
  return q.orderBy("events.created_at", "desc").orderBy("events.id", "desc").limit(f.limit).execute();
}
