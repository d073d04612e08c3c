import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import type { Db } from "../store/db.ts";
import { insertOrg, type OrgScope, orgTransaction, selectOrg, systemScope } from "../store/scope.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import { openTokenValid, parseOpenToken } from "./token.ts";

/**
 * Recording an open (ADR 0011 §6): a valid token records one `opened` event for its message
 * (delivery_id null: the pixel is shared by the message's recipients), the first time only.
 * The message row is locked (PostgreSQL) or the store serialises writers (SQLite), so two
 * loads of the pixel at the same moment still record one event. Its webhook deliveries are
 * inserted in the same transaction (the outbox, ADR 0011 §3). The answer says only
 * whether something was recorded; the caller shows the same GIF either way.
 */
export interface OpenDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  outbox: WebhookOutbox | null;
}

export type OpenResult = "recorded" | "already" | "refused";

export async function recordOpen(deps: OpenDeps, token: string): Promise<OpenResult> {
  const parsed = parseOpenToken(token);
  if (parsed === null) return "refused";
  // An org that does not exist has no keys: refused like a bad MAC.
  const keys = await deps.keyring.orgKeys(parsed.orgId).catch(() => null);
  if (keys === null || !openTokenValid(keys.indexKey, parsed)) return "refused";
  const scope = systemScope(deps.db, parsed.orgId, "worker");
  const plan = deps.outbox === null ? () => [] : await deps.outbox.planFor([parsed.orgId]);
  return orgTransaction(scope, async (tx) => {
    let message = selectOrg(tx, "messages").select("id").where("id", "=", parsed.messageId);
    if (deps.db.dialect === "postgres") message = message.forUpdate();
    if ((await message.executeTakeFirst()) === undefined) return "refused";
    const seen = await selectOrg(tx, "events")
      .select("id")
      .where("message_id", "=", parsed.messageId)
      .where("type", "=", "opened")
      .executeTakeFirst();
    if (seen !== undefined) return "already";
    const now = deps.clock.now();
    const event = {
      id: newId("evt", now),
      org_id: parsed.orgId,
      message_id: parsed.messageId,
      delivery_id: null,
      type: "opened",
      created_at: now,
      details: "{}",
    };
    await insertOrg(tx, "events", [event]).execute();
    const hooks = plan([event]);
    if (hooks.length > 0) await insertOrg(tx, "webhook_deliveries", hooks).execute();
    return "recorded";
  });
}

/** When the message's pixel was first loaded (epoch ms), or null: not opened, or not tracked. */
export async function openedAt(scope: OrgScope, messageId: string): Promise<number | null> {
  const row = await selectOrg(scope, "events")
    .select("created_at")
    .where("message_id", "=", messageId)
    .where("type", "=", "opened")
    .orderBy("created_at")
    .executeTakeFirst();
  return row?.created_at ?? null;
}
