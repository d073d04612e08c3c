import { appendChains, type ChainDrafts } from "./audit.ts";
import type { Db } from "./db.ts";
import { chunks } from "./group-commit.ts";
import type {
  AttachmentPartsTable,
  BatchesTable,
  DeliveriesTable,
  EventsTable,
  MessagesTable,
  WebhookDeliveriesTable,
} from "./schema.ts";
import { insertOutbox } from "./webhooks.ts";

/**
 * The submit path's write. Cross-org on purpose (ADR 0008 allow-list): one group commit
 * carries the submissions of many orgs, each row built with its principal's org.
 */

/** One accepted message with everything written for it in the same transaction. */
export interface SubmissionRows {
  message: MessagesTable;
  attachments: AttachmentPartsTable[];
  deliveries: DeliveriesTable[];
  events: EventsTable[];
  /** The idempotency record of a keyed batch, carried by the batch's first accepted message. */
  batch?: BatchesTable;
}

export const ROWS_PER_INSERT = 400;

/**
 * Writes a batch of submissions in one transaction (used through a GroupCommitter), with
 * the webhook outbox rows of their events (WebhookOutbox.rowsFor, ADR 0011 §3) and the
 * buffered audit entries it carries (carryingAudit, ADR 0009 §2).
 */
export async function insertSubmissions(
  db: Db,
  items: readonly SubmissionRows[],
  webhooks: readonly WebhookDeliveriesTable[] = [],
  audit: readonly ChainDrafts[] = [],
): Promise<void> {
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
    await insertOutbox(trx, webhooks);
    const batches = items.flatMap((i) => (i.batch === undefined ? [] : [i.batch]));
    if (batches.length > 0) await trx.insertInto("batches").values(batches).execute();
    // Last: on PostgreSQL the chain heads stay locked for the shortest time.
    await appendChains({ ...db, kysely: trx }, audit);
  });
}
