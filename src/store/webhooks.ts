import { type Kysely, sql } from "kysely";
import type { Db } from "./db.ts";
import { chunks } from "./group-commit.ts";
import type { Database, EventsTable, WebhookDeliveriesTable, WebhooksTable } from "./schema.ts";
import { deleteOrg, insertOrg, type OrgScope, orgTransaction, selectOrg, updateOrg } from "./scope.ts";

/**
 * The `webhooks` endpoints and their `webhook_deliveries` outbox (ADR 0011 §3). Endpoint
 * management and the delivery log go through the org scope. Two functions are cross-org
 * on purpose (ADR 0008 allow-list): `insertOutbox`, called inside the event writers'
 * transactions, which carry the events of many orgs (each row built with its event's
 * org), and the dispatcher's claim, which, like the delivery queue, serves every org.
 */
export type WebhookPatch = Partial<
  Pick<
    WebhooksTable,
    | "url"
    | "event_types"
    | "enabled"
    | "secret"
    | "prev_secret"
    | "prev_secret_expires_at"
    | "failing_since"
    | "disabled_at"
    | "disabled_reason"
    | "updated_at"
  >
>;

export async function insertWebhook(scope: OrgScope, row: WebhooksTable): Promise<void> {
  await insertOrg(scope, "webhooks", [row]).execute();
}

export async function findWebhook(scope: OrgScope, id: string): Promise<WebhooksTable | undefined> {
  return selectOrg(scope, "webhooks").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Newest first; `before` is the cursor id. */
export async function listWebhooks(
  scope: OrgScope,
  f: { before: string | undefined; limit: number },
): Promise<WebhooksTable[]> {
  let q = selectOrg(scope, "webhooks").selectAll();
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/** The endpoints that receive events now: enabled and not disabled by failures. */
export async function activeWebhooks(
  scope: OrgScope,
): Promise<Pick<WebhooksTable, "id" | "org_id" | "event_types">[]> {
  return selectOrg(scope, "webhooks")
    .select(["id", "org_id", "event_types"])
    .where("enabled", "=", 1)
    .where("disabled_at", "is", null)
    .execute();
}

/** False when the org has no endpoint of that id. */
export async function updateWebhook(scope: OrgScope, id: string, patch: WebhookPatch): Promise<boolean> {
  const res = await updateOrg(scope, "webhooks").set(patch).where("id", "=", id).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Deletes an endpoint and its delivery log; false when the org has no endpoint of that id. */
export async function deleteWebhook(scope: OrgScope, id: string): Promise<boolean> {
  return orgTransaction(scope, async (tx) => {
    await deleteOrg(tx, "webhook_deliveries").where("webhook_id", "=", id).execute();
    const res = await deleteOrg(tx, "webhooks").where("id", "=", id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  });
}

/** Marks an endpoint failing from `now` unless it already is; the time it has been failing since. */
export async function markFailing(scope: OrgScope, id: string, now: number): Promise<number> {
  await updateOrg(scope, "webhooks")
    .set({ failing_since: now })
    .where("id", "=", id)
    .where("failing_since", "is", null)
    .execute();
  const row = await selectOrg(scope, "webhooks")
    .select("failing_since")
    .where("id", "=", id)
    .executeTakeFirst();
  return row?.failing_since ?? now;
}

export async function clearFailing(scope: OrgScope, id: string): Promise<void> {
  await updateOrg(scope, "webhooks")
    .set({ failing_since: null })
    .where("id", "=", id)
    .where("failing_since", "is not", null)
    .execute();
}

/**
 * Disables an endpoint not disabled yet and records `event` (its `webhook_disabled` event) in
 * the same transaction; false when it was disabled already (another node got there first).
 */
export async function disableWebhook(
  scope: OrgScope,
  id: string,
  now: number,
  reason: string,
  event: EventsTable,
): Promise<boolean> {
  return orgTransaction(scope, async (tx) => {
    const res = await updateOrg(tx, "webhooks")
      .set({ disabled_at: now, disabled_reason: reason, updated_at: now })
      .where("id", "=", id)
      .where("disabled_at", "is", null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await insertOrg(tx, "events", [event]).execute();
    return true;
  });
}

/** Outbox rows of one org (a test send, the cancel route's events). */
export async function insertOrgDeliveries(
  scope: OrgScope,
  rows: readonly WebhookDeliveriesTable[],
): Promise<void> {
  for (const part of chunks(rows, 400)) await insertOrg(scope, "webhook_deliveries", part).execute();
}

/**
 * Outbox rows inside an event writer's transaction (`trx`), for the events it inserted:
 * rows of many orgs, each built by the outbox with its event's org.
 */
export async function insertOutbox(
  trx: Kysely<Database>,
  rows: readonly WebhookDeliveriesTable[],
): Promise<void> {
  for (const part of chunks(rows, 400)) await trx.insertInto("webhook_deliveries").values(part).execute();
}

/** An endpoint's delivery log, newest first; `before` is the cursor id. */
export async function listWebhookDeliveries(
  scope: OrgScope,
  webhookId: string,
  f: { before: string | undefined; limit: number },
): Promise<WebhookDeliveriesTable[]> {
  let q = selectOrg(scope, "webhook_deliveries").selectAll().where("webhook_id", "=", webhookId);
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/** The event a delivery carries (null: purged by retention since). */
export async function findEvent(scope: OrgScope, id: string): Promise<EventsTable | undefined> {
  return selectOrg(scope, "events").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Claims due pending deliveries of every org (the delivery queue's pattern, ADR 0002): the
 * lease owner is stamped, `due_at` moves to the lease expiry (a dispatcher that dies stops
 * holding them then) and the attempt is counted. PostgreSQL skips rows another node holds.
 */
export async function claimWebhookDeliveries(
  db: Db,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<WebhookDeliveriesTable[]> {
  const due = db.kysely
    .selectFrom("webhook_deliveries")
    .select("id")
    .where("status", "=", "pending")
    .where("due_at", "is not", null)
    .where("due_at", "<=", now)
    .orderBy("due_at")
    .limit(limit);
  return db.kysely
    .updateTable("webhook_deliveries")
    .set({ lease_owner: owner, due_at: now + leaseMs, attempts: sql<number>`attempts + 1`, updated_at: now })
    .where("id", "in", db.dialect === "postgres" ? due.forUpdate().skipLocked() : due)
    .returningAll()
    .execute();
}

export type AttemptResult = Pick<
  WebhookDeliveriesTable,
  "status" | "due_at" | "last_status" | "last_error" | "delivered_at" | "updated_at"
>;

/** Records an attempt's result if the lease is still this dispatcher's (fenced on owner and attempt). */
export async function finishWebhookDelivery(
  scope: OrgScope,
  fence: { id: string; owner: string; attempt: number },
  result: AttemptResult,
): Promise<boolean> {
  const res = await updateOrg(scope, "webhook_deliveries")
    .set({ ...result, lease_owner: null })
    .where("id", "=", fence.id)
    .where("lease_owner", "=", fence.owner)
    .where("attempts", "=", fence.attempt)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
