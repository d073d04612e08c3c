import type { Db } from "./db.ts";
import { chunks } from "./group-commit.ts";
import type {
  AttachmentPartsTable,
  BatchesTable,
  DeliveriesTable,
  DeliveryStatus,
  EventsTable,
  MessagesTable,
} from "./schema.ts";

/** One accepted message with everything written for it in the same transaction. */
export interface SubmissionRows {
  message: MessagesTable;
  attachments: AttachmentPartsTable[];
  deliveries: DeliveriesTable[];
  events: EventsTable[];
  /** The idempotency record of a keyed batch, carried by the batch's first accepted message. */
  batch?: BatchesTable;
}

const ROWS_PER_INSERT = 400;

/** Writes a batch of submissions in one transaction (used through a GroupCommitter). */
export async function insertSubmissions(db: Db, items: readonly SubmissionRows[]): Promise<void> {
  await db.kysely.transaction().execute(async (trx) => {
    for (const part of chunks(
      items.map((i) => i.message),
      ROWS_PER_INSERT,
    ))
      await trx.insertInto("messages").values(part).execute();
    // A few parts per statement: parameters are copied when bound (and sent as hex text to
    // PostgreSQL), so a statement of many 1 MiB parts would hold them all at once.
    for (const part of chunks(
      items.flatMap((i) => i.attachments),
      4,
    ))
      await trx.insertInto("attachment_parts").values(part).execute();
    for (const part of chunks(
      items.flatMap((i) => i.deliveries),
      ROWS_PER_INSERT,
    ))
      await trx.insertInto("deliveries").values(part).execute();
    for (const part of chunks(
      items.flatMap((i) => i.events),
      ROWS_PER_INSERT,
    ))
      await trx.insertInto("events").values(part).execute();
    const batches = items.flatMap((i) => (i.batch === undefined ? [] : [i.batch]));
    if (batches.length > 0) await trx.insertInto("batches").values(batches).execute();
  });
}

export async function findBatch(
  db: Db,
  orgId: string,
  idempotencyHash: string,
): Promise<BatchesTable | undefined> {
  return db.kysely
    .selectFrom("batches")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("idempotency_hash", "=", idempotencyHash)
    .executeTakeFirst();
}

export async function findByIdempotency(
  db: Db,
  orgId: string,
  idempotencyHash: string,
): Promise<MessagesTable | undefined> {
  return db.kysely
    .selectFrom("messages")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("idempotency_hash", "=", idempotencyHash)
    .executeTakeFirst();
}

export async function findMessage(db: Db, orgId: string, id: string): Promise<MessagesTable | undefined> {
  return db.kysely
    .selectFrom("messages")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .executeTakeFirst();
}

export async function findMessagesByIds(db: Db, ids: readonly string[]): Promise<MessagesTable[]> {
  if (ids.length === 0) return [];
  return db.kysely
    .selectFrom("messages")
    .selectAll()
    .where("id", "in", [...ids])
    .execute();
}

/** One attachment's sealed parts in order, read one at a time (ADR 0006). */
export async function* attachmentPartsOf(
  db: Db,
  messageId: string,
  idx: number,
): AsyncGenerator<AttachmentPartsTable> {
  for (let seq = 0; ; seq++) {
    const row = await db.kysely
      .selectFrom("attachment_parts")
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
  db: Db,
  orgId: string,
  messageIds: readonly string[],
): Promise<DeliveriesTable[]> {
  if (messageIds.length === 0) return [];
  return db.kysely
    .selectFrom("deliveries")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("message_id", "in", [...messageIds])
    .orderBy("id")
    .execute();
}

export async function eventsOf(db: Db, orgId: string, messageId: string): Promise<EventsTable[]> {
  return db.kysely
    .selectFrom("events")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("message_id", "=", messageId)
    .orderBy("id")
    .execute();
}

export interface MessageFilter {
  orgId: string;
  status?: DeliveryStatus;
  recipientBidx?: string;
  tag?: string;
  from?: number;
  to?: number;
  /** Return messages with an id below this one (newest first). */
  before?: string;
  limit: number;
}

export async function listMessages(db: Db, f: MessageFilter): Promise<MessagesTable[]> {
  let q = db.kysely.selectFrom("messages").selectAll().where("org_id", "=", f.orgId);
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  if (f.from !== undefined) q = q.where("created_at", ">=", f.from);
  if (f.to !== undefined) q = q.where("created_at", "<", f.to);
  if (f.tag !== undefined)
    q = q.where("tags", "like", `%${JSON.stringify(f.tag).replace(/[%_\\]/g, "\\$&")}%`);
  if (f.status !== undefined || f.recipientBidx !== undefined) {
    const { status, recipientBidx } = f;
    q = q.where("id", "in", (eb) => {
      let sub = eb.selectFrom("deliveries").select("message_id").where("org_id", "=", f.orgId);
      if (status !== undefined) sub = sub.where("status", "=", status);
      if (recipientBidx !== undefined) sub = sub.where("recipient_bidx", "=", recipientBidx);
      return sub;
    });
  }
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/** Cancels the deliveries of a message that have not started (queued, deferred, scheduled); returns their ids. */
export async function cancelPending(
  db: Db,
  orgId: string,
  messageId: string,
  now: number,
  events: (deliveryId: string) => EventsTable,
): Promise<string[]> {
  return db.kysely.transaction().execute(async (trx) => {
    const rows = await trx
      .updateTable("deliveries")
      .set({
        status: "cancelled",
        due_at: null,
        lease_owner: null,
        updated_at: now,
        last_reason: "cancelled",
      })
      .where("org_id", "=", orgId)
      .where("message_id", "=", messageId)
      .where("status", "in", ["queued", "deferred", "scheduled"])
      .returning("id")
      .execute();
    const ids = rows.map((r) => r.id);
    if (ids.length > 0)
      for (const part of chunks(ids.map(events), ROWS_PER_INSERT))
        await trx.insertInto("events").values(part).execute();
    return ids;
  });
}
