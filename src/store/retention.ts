import { type ExpressionBuilder, sql } from "kysely";
import type { Db } from "./db.ts";
import type { Database, DeliveryStatus, LegalHoldsTable } from "./schema.ts";
import { deleteOrg, insertOrg, type OrgScope, orgTransaction, selectOrg, updateOrg } from "./scope.ts";

/**
 * Retention settings, legal holds and the purge's writes (ADR 0009 §4). Org-owned tables
 * are reached through the scope helpers only; `orgs` (not org-owned) through the Db.
 */

export interface RetentionSettings {
  content_retention_days: number;
  metadata_retention_days: number;
}

export async function findRetention(db: Db, orgId: string): Promise<RetentionSettings | undefined> {
  return db.kysely
    .selectFrom("orgs")
    .select(["content_retention_days", "metadata_retention_days"])
    .where("id", "=", orgId)
    .executeTakeFirst();
}

/**
 * Sets either or both periods in one statement that also keeps metadata ≥ content, so two
 * concurrent changes (one to each) cannot leave metadata shorter than content. Undefined:
 * the org does not exist or the result would break that rule.
 */
export async function updateRetention(
  db: Db,
  orgId: string,
  change: { content?: number | undefined; metadata?: number | undefined },
): Promise<RetentionSettings | undefined> {
  const content = change.content ?? null;
  const metadata = change.metadata ?? null;
  const newContent = sql<number>`coalesce(${content}, ${sql.ref("content_retention_days")})`;
  const newMetadata = sql<number>`coalesce(${metadata}, ${sql.ref("metadata_retention_days")})`;
  return db.kysely
    .updateTable("orgs")
    .set({ content_retention_days: newContent, metadata_retention_days: newMetadata })
    .where("id", "=", orgId)
    .where(sql<boolean>`${newMetadata} >= ${newContent}`)
    .returning(["content_retention_days", "metadata_retention_days"])
    .executeTakeFirst();
}

// ---- legal holds

export async function insertHold(scope: OrgScope, row: LegalHoldsTable): Promise<void> {
  await insertOrg(scope, "legal_holds", [row]).execute();
}

export async function findHold(scope: OrgScope, id: string): Promise<LegalHoldsTable | undefined> {
  return selectOrg(scope, "legal_holds").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Newest first; active only unless `all`. */
export async function listHolds(
  scope: OrgScope,
  f: { all: boolean; before: string | undefined; limit: number },
): Promise<LegalHoldsTable[]> {
  let q = selectOrg(scope, "legal_holds").selectAll();
  if (!f.all) q = q.where("released_at", "is", null);
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/** Releases an active hold; false when there is no active hold of that id. */
export async function releaseHold(scope: OrgScope, id: string, now: number): Promise<boolean> {
  const res = await updateOrg(scope, "legal_holds")
    .set({ released_at: now })
    .where("id", "=", id)
    .where("released_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

async function hasOrgHold(scope: OrgScope): Promise<boolean> {
  const row = await selectOrg(scope, "legal_holds")
    .select("id")
    .where("kind", "=", "org")
    .where("released_at", "is", null)
    .executeTakeFirst();
  return row !== undefined;
}

// ---- the purge

/** A message with one of these deliveries may still be read by a worker: never purged. */
const NOT_FINAL: readonly DeliveryStatus[] = ["scheduled", "queued", "sending", "deferred"];

type MessagesEb = ExpressionBuilder<Database, "messages">;

const sameMessage = (table: "deliveries" | "legal_holds") =>
  sql<boolean>`${sql.ref(`${table}.message_id`)} = ${sql.ref("messages.id")}`;

/**
 * The org's messages created before `cutoff` that no active hold covers (a hold on the
 * message or on one of its recipients; an org hold is checked by the caller) and whose
 * deliveries are all final. Oldest first.
 */
function purgeable(scope: OrgScope, cutoff: number) {
  const pending = selectOrg(scope, "deliveries")
    .select("deliveries.id")
    .where(sameMessage("deliveries"))
    .where("deliveries.status", "in", [...NOT_FINAL]);
  const messageHold = selectOrg(scope, "legal_holds")
    .select("legal_holds.id")
    .where(sameMessage("legal_holds"))
    .where("legal_holds.kind", "=", "message")
    .where("legal_holds.released_at", "is", null);
  const heldRecipients = selectOrg(scope, "legal_holds")
    .select("legal_holds.recipient_bidx")
    .where("legal_holds.kind", "=", "recipient")
    .where("legal_holds.released_at", "is", null);
  const recipientHold = selectOrg(scope, "deliveries")
    .select("deliveries.id")
    .where(sameMessage("deliveries"))
    .where("deliveries.recipient_bidx", "in", heldRecipients.$narrowType<{ recipient_bidx: string }>());
  return selectOrg(scope, "messages")
    .select("messages.id")
    .where("messages.created_at", "<", cutoff)
    .where((eb: MessagesEb) => eb.not(eb.exists(pending)))
    .where((eb: MessagesEb) => eb.not(eb.exists(messageHold)))
    .where((eb: MessagesEb) => eb.not(eb.exists(recipientHold)))
    .orderBy("messages.created_at");
}

/** Sandbox copies of the messages' deliveries (sandbox_messages is keyed by delivery). */
function deleteSandboxOf(tx: OrgScope, messageIds: readonly string[]) {
  const deliveries = selectOrg(tx, "deliveries")
    .select("id")
    .where("message_id", "in", [...messageIds]);
  return deleteOrg(tx, "sandbox_messages").where("delivery_id", "in", deliveries).execute();
}

/**
 * Crypto-shreds up to `limit` messages whose content period has passed: in one
 * transaction the data key and the sealed content go, then the attachment parts and the
 * sandbox copies, and `content_purged_at` is set. Returns the ids this call shredded (a
 * message shredded by a concurrent node is not counted twice).
 */
export async function shredContent(
  scope: OrgScope,
  cutoff: number,
  now: number,
  limit: number,
): Promise<string[]> {
  return orgTransaction(scope, async (tx) => {
    if (await hasOrgHold(tx)) return [];
    const candidates = await purgeable(tx, cutoff)
      .where("messages.content_purged_at", "is", null)
      .limit(limit)
      .execute();
    if (candidates.length === 0) return [];
    const shredded = await updateOrg(tx, "messages")
      .set({ data_key: null, content: null, content_purged_at: now })
      .where(
        "id",
        "in",
        candidates.map((c) => c.id),
      )
      .where("content_purged_at", "is", null)
      .returning("id")
      .execute();
    const ids = shredded.map((r) => r.id);
    if (ids.length === 0) return [];
    await deleteOrg(tx, "attachment_parts").where("message_id", "in", ids).execute();
    await deleteSandboxOf(tx, ids);
    return ids;
  });
}

/**
 * Deletes up to `limit` messages whose metadata period has passed, with their events,
 * sandbox copies, attachment parts and deliveries, in one transaction. Returns their ids.
 */
export async function deleteMetadata(scope: OrgScope, cutoff: number, limit: number): Promise<string[]> {
  return orgTransaction(scope, async (tx) => {
    if (await hasOrgHold(tx)) return [];
    const ids = (await purgeable(tx, cutoff).limit(limit).execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    await deleteOrg(tx, "events").where("message_id", "in", ids).execute();
    await deleteSandboxOf(tx, ids);
    await deleteOrg(tx, "attachment_parts").where("message_id", "in", ids).execute();
    await deleteOrg(tx, "deliveries").where("message_id", "in", ids).execute();
    const gone = await deleteOrg(tx, "messages").where("id", "in", ids).returning("id").execute();
    return gone.map((r) => r.id);
  });
}

/** Deletes up to `limit` batch idempotency records created before `cutoff` (none under an org hold). */
export async function deleteOldBatches(scope: OrgScope, cutoff: number, limit: number): Promise<number> {
  return orgTransaction(scope, async (tx) => {
    if (await hasOrgHold(tx)) return 0;
    const old = await selectOrg(tx, "batches")
      .select("idempotency_hash")
      .where("created_at", "<", cutoff)
      .limit(limit)
      .execute();
    if (old.length === 0) return 0;
    const res = await deleteOrg(tx, "batches")
      .where(
        "idempotency_hash",
        "in",
        old.map((b) => b.idempotency_hash),
      )
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  });
}
