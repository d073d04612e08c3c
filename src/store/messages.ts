import { chunks } from "./group-commit.ts";
import type {
  AttachmentPartsTable,
  BatchesTable,
  DeliveriesTable,
  DeliveryStatus,
  EventsTable,
  MessagesTable,
  WebhookDeliveriesTable,
} from "./schema.ts";
import { insertOrg, type OrgScope, orgTransaction, selectOrg, updateOrg } from "./scope.ts";
import { ROWS_PER_INSERT } from "./submissions.ts";
import { insertOrgDeliveries } from "./webhooks.ts";

/**
 * Reads (and the cancel) of an org's messages, their deliveries and events. Every query
 * goes through the scope helpers, so it is limited to the scope's org, and for a test-mode
 * scope to test-mode messages (ADR 0008).
 */
export { insertSubmissions, type SubmissionRows } from "./submissions.ts";

export async function findBatch(scope: OrgScope, idempotencyHash: string): Promise<BatchesTable | undefined> {
  return selectOrg(scope, "batches")
    .selectAll()
    .where("idempotency_hash", "=", idempotencyHash)
    .executeTakeFirst();
}

export async function findByIdempotency(
  scope: OrgScope,
  idempotencyHash: string,
): Promise<MessagesTable | undefined> {
  return selectOrg(scope, "messages")
    .selectAll()
    .where("idempotency_hash", "=", idempotencyHash)
    .executeTakeFirst();
}

export async function findMessage(scope: OrgScope, id: string): Promise<MessagesTable | undefined> {
  return selectOrg(scope, "messages").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function findMessagesByIds(scope: OrgScope, ids: readonly string[]): Promise<MessagesTable[]> {
  if (ids.length === 0) return [];
  return selectOrg(scope, "messages")
    .selectAll()
    .where("id", "in", [...ids])
    .execute();
}

/** One attachment's sealed parts in order, read one at a time (ADR 0006). */
export async function* attachmentPartsOf(
  scope: OrgScope,
  messageId: string,
  idx: number,
): AsyncGenerator<AttachmentPartsTable> {
  for (let seq = 0; ; seq++) {
    const row = await selectOrg(scope, "attachment_parts")
      .selectAll()
      .where("message_id", "=", messageId)
      .where("idx", "=", idx)
      .where("seq", "=", seq)
      .executeTakeFirst();
    if (row === undefined) return;
    yield row;
  }
}

export async function deliveriesOf(
  scope: OrgScope,
  messageIds: readonly string[],
): Promise<DeliveriesTable[]> {
  if (messageIds.length === 0) return [];
  return selectOrg(scope, "deliveries")
    .selectAll()
    .where("message_id", "in", [...messageIds])
    .orderBy("id")
    .execute();
}

export async function findDelivery(scope: OrgScope, id: string): Promise<DeliveriesTable | undefined> {
  return selectOrg(scope, "deliveries").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function eventsOf(scope: OrgScope, messageId: string): Promise<EventsTable[]> {
  return selectOrg(scope, "events").selectAll().where("message_id", "=", messageId).orderBy("id").execute();
}

export interface MessageFilter {
  status?: DeliveryStatus;
  recipientBidx?: string;
  tag?: string;
  from?: number;
  to?: number;
  /** Return messages with an id below this one (newest first). */
  before?: string;
  limit: number;
}

export async function listMessages(scope: OrgScope, f: MessageFilter): Promise<MessagesTable[]> {
  let q = selectOrg(scope, "messages").selectAll();
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  if (f.from !== undefined) q = q.where("created_at", ">=", f.from);
  if (f.to !== undefined) q = q.where("created_at", "<", f.to);
  if (f.tag !== undefined)
    q = q.where("tags", "like", `%${JSON.stringify(f.tag).replace(/[%_\\]/g, "\\$&")}%`);
  if (f.status !== undefined || f.recipientBidx !== undefined) {
    let sub = selectOrg(scope, "deliveries").select("message_id");
    if (f.status !== undefined) sub = sub.where("status", "=", f.status);
    if (f.recipientBidx !== undefined) sub = sub.where("recipient_bidx", "=", f.recipientBidx);
    q = q.where("id", "in", sub);
  }
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/**
 * Cancels the deliveries of a message that have not started (queued, deferred, scheduled);
 * returns their ids. `webhooks` builds the outbox rows of the events without a query
 * (WebhookOutbox.planFor, read before): they are written in the same transaction.
 */
export async function cancelPending(
  scope: OrgScope,
  messageId: string,
  now: number,
  events: (deliveryId: string) => EventsTable,
  webhooks: (events: readonly EventsTable[]) => WebhookDeliveriesTable[] = () => [],
): Promise<string[]> {
  return orgTransaction(scope, async (tx) => {
    const rows = await updateOrg(tx, "deliveries")
      .set({
        status: "cancelled",
        due_at: null,
        lease_owner: null,
        updated_at: now,
        last_reason: "cancelled",
      })
      .where("message_id", "=", messageId)
      .where("status", "in", ["queued", "deferred", "scheduled"])
      .returning("id")
      .execute();
    const ids = rows.map((r) => r.id);
    const made = ids.map(events);
    for (const part of chunks(made, ROWS_PER_INSERT)) await insertOrg(tx, "events", part).execute();
    await insertOrgDeliveries(tx, webhooks(made));
    return ids;
  });
}
