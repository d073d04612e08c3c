import { sql } from "kysely";
import type { Db } from "./db.ts";
import type { EventsTable, PortalLinksTable, WebhookDeliveriesTable } from "./schema.ts";
import { insertOrg, type OrgScope, orgTransaction, selectOrg, updateOrg } from "./scope.ts";
import { insertOrgDeliveries } from "./webhooks.ts";

/**
 * The portal links of ADR 0010 §6: one row per portal delivery. A link is found by the hash
 * of its token alone (the recipient's browser names no org); every change after that goes
 * through the link's org scope.
 */
export type PortalLinkPatch = Partial<
  Pick<
    PortalLinksTable,
    | "code_hash"
    | "code_expires_at"
    | "session_hash"
    | "session_expires_at"
    | "verified_at"
    | "failed_codes"
    | "locked_until"
  >
>;

/**
 * The link of a token hash, in whichever org holds it: the one unscoped read, as an API key
 * is found by its hash before its org is known. The hash is unique (a 256-bit token).
 */
export async function findLinkByTokenHash(db: Db, tokenHash: string): Promise<PortalLinksTable | undefined> {
  return db.kysely
    .selectFrom("portal_links")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
}

export async function findLinkOfDelivery(
  scope: OrgScope,
  deliveryId: string,
): Promise<PortalLinksTable | undefined> {
  return selectOrg(scope, "portal_links")
    .selectAll()
    .where("delivery_id", "=", deliveryId)
    .executeTakeFirst();
}

export async function insertLink(scope: OrgScope, row: PortalLinksTable): Promise<void> {
  await insertOrg(scope, "portal_links", [row]).execute();
}

/**
 * A new notice for the same delivery: a new token (the old link stops working), a new
 * expiry, and no code or session of the old link. A revocation and a lock stay.
 */
export async function renewLink(
  scope: OrgScope,
  id: string,
  change: { token_hash: string; created_at: number; expires_at: number },
): Promise<void> {
  await updateOrg(scope, "portal_links")
    .set({ ...change, code_hash: null, code_expires_at: null, session_hash: null, session_expires_at: null })
    .where("id", "=", id)
    .execute();
}

export async function updateLink(scope: OrgScope, id: string, patch: PortalLinkPatch): Promise<void> {
  await updateOrg(scope, "portal_links").set(patch).where("id", "=", id).execute();
}

/** One more wrong code, counted in the store (concurrent guesses each count); the new count. */
export async function countFailedCode(scope: OrgScope, id: string): Promise<number> {
  await updateOrg(scope, "portal_links")
    .set({ failed_codes: sql<number>`failed_codes + 1` })
    .where("id", "=", id)
    .execute();
  const row = await selectOrg(scope, "portal_links")
    .select("failed_codes")
    .where("id", "=", id)
    .executeTakeFirst();
  return row?.failed_codes ?? 0;
}

/**
 * Takes the code out of the link when it matches `codeHash` (so one code verifies once);
 * false when another request took it first.
 */
export async function consumeCode(scope: OrgScope, id: string, codeHash: string): Promise<boolean> {
  const result = await updateOrg(scope, "portal_links")
    .set({ code_hash: null, code_expires_at: null })
    .where("id", "=", id)
    .where("code_hash", "=", codeHash)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countView(scope: OrgScope, id: string): Promise<void> {
  await updateOrg(scope, "portal_links")
    .set({ views: sql<number>`views + 1` })
    .where("id", "=", id)
    .execute();
}

/** Revokes every link of a message not revoked yet; the revoked links. */
export async function revokeLinks(
  scope: OrgScope,
  messageId: string,
  now: number,
): Promise<Pick<PortalLinksTable, "id" | "delivery_id">[]> {
  return updateOrg(scope, "portal_links")
    .set({
      revoked_at: now,
      session_hash: null,
      session_expires_at: null,
      code_hash: null,
      code_expires_at: null,
    })
    .where("message_id", "=", messageId)
    .where("revoked_at", "is", null)
    .returning(["id", "delivery_id"])
    .execute();
}

/** Portal events and their webhook outbox rows (WebhookOutbox.rowsFor), in one transaction. */
export async function insertPortalEvents(
  scope: OrgScope,
  events: readonly EventsTable[],
  webhooks: readonly WebhookDeliveriesTable[] = [],
): Promise<void> {
  if (events.length === 0) return;
  if (webhooks.length === 0) {
    await insertOrg(scope, "events", events).execute();
    return;
  }
  await orgTransaction(scope, async (tx) => {
    await insertOrg(tx, "events", events).execute();
    await insertOrgDeliveries(tx, webhooks);
  });
}
