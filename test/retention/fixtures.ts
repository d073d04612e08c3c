import assert from "node:assert/strict";
import type { AuditEntryInput, AuditLog } from "../../src/audit/types.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import type { Sealpost } from "../../src/main.ts";
import { type OrgPurge, type PurgeOptions, runPurge } from "../../src/retention/purge.ts";
import type { AuditLogTable } from "../../src/store/schema.ts";
import { auth, BOOTSTRAP_KEY, eventually } from "../helpers/app.ts";

/** Shared steps of the retention tests: send, wait until final, read rows, purge. */
export const DAY = 86_400_000;

/** A sandbox message (delivered by the worker into the sandbox inbox) with one attachment. */
export function sandboxMessage(to: string | string[] = "pat@example.org", extra: object = {}) {
  return {
    from: "clinic@example.com",
    to,
    subject: "Results",
    text: "Your results are ready.",
    sandbox: true,
    attachments: [{ filename: "r.txt", content: Buffer.from("lab results").toString("base64") }],
    ...extra,
  };
}

export interface Sent {
  id: string;
  deliveryId: string;
}

export async function send(app: Sealpost, payload: object, token = BOOTSTRAP_KEY): Promise<Sent> {
  const res = await app.api.inject({ method: "POST", url: "/v1/messages", headers: auth(token), payload });
  assert.equal(res.statusCode, 202, res.body);
  const body = res.json();
  return { id: body.id, deliveryId: body.deliveries[0].id };
}

/** Waits until every delivery of the message reached `status`. */
export async function until(app: Sealpost, id: string, status = "delivered"): Promise<void> {
  await eventually(async () => {
    const m = (await getMessage(app, id)).json();
    return m.deliveries.every((d: { status: string }) => d.status === status) ? true : undefined;
  });
}

export function getMessage(app: Sealpost, id: string, query = "", token = BOOTSTRAP_KEY) {
  return app.api.inject({ url: `/v1/messages/${id}${query}`, headers: auth(token) });
}

/** Whether the API still shows the message's content. */
export async function contentReadable(app: Sealpost, id: string): Promise<boolean> {
  const res = await getMessage(app, id, "?include=content");
  if (res.statusCode === 410) {
    assert.equal(res.json().code, "content_purged");
    return false;
  }
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().content.subject, "Results");
  return true;
}

/** What is left of a message in the store, read directly. */
export async function rowsOf(app: Sealpost, id: string) {
  const k = app.db.kysely;
  const message = await k.selectFrom("messages").selectAll().where("id", "=", id).executeTakeFirst();
  const parts = await k.selectFrom("attachment_parts").select("seq").where("message_id", "=", id).execute();
  const sandbox = await k.selectFrom("sandbox_messages").select("raw").where("message_id", "=", id).execute();
  const deliveries = await k.selectFrom("deliveries").select("id").where("message_id", "=", id).execute();
  const events = await k.selectFrom("events").select("id").where("message_id", "=", id).execute();
  return {
    message,
    parts: parts.length,
    sandbox: sandbox.length,
    deliveries: deliveries.length,
    events: events.length,
  };
}

/** An AuditLog that keeps what it is given (the purge's unit tests). */
export function recordingAudit(): AuditLog & { entries: AuditEntryInput[] } {
  const entries: AuditEntryInput[] = [];
  return {
    entries,
    record: (e) => {
      entries.push(e);
    },
    recordNow: async (e) => {
      entries.push(e);
    },
    handOff: () => null,
    flush: async () => {},
    close: async () => {},
  };
}

export function purge(
  app: Sealpost,
  audit: AuditLog = app.audit,
  opts: PurgeOptions = {},
): Promise<OrgPurge[]> {
  return runPurge({ db: app.db, audit, logger: silentLogger() }, app.clock.now(), opts);
}

/** The org's audit entries of `action`, oldest first, from the audit log itself. */
export async function auditRows(app: Sealpost, orgId: string, action: string): Promise<AuditLogTable[]> {
  await app.audit.flush();
  return app.db.kysely
    .selectFrom("audit_log")
    .selectAll()
    .where("chain", "=", orgId)
    .where("action", "=", action)
    .orderBy("seq")
    .execute();
}
