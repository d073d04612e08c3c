import type { AuditActor } from "../audit/entries.ts";
import { newId } from "../core/ids.ts";
import { insertPortalEvents } from "../store/portal.ts";
import type { PortalLinksTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";
import type { PortalActor, PortalDeps } from "./types.ts";

/**
 * What happens on a portal link, recorded twice (ADR 0010 §6): an event of the delivery
 * (the message's timeline) and an audit entry (`portal.view`, …) naming the delivery, by the
 * anonymous visitor and their address, or by the key that revoked. Ids and codes only.
 */
export type PortalEvent =
  | "portal_code_sent"
  | "portal_code_failed"
  | "portal_locked"
  | "portal_viewed"
  | "portal_downloaded"
  | "portal_replied"
  | "portal_revoked";

const ACTIONS: Readonly<Record<PortalEvent, string>> = {
  portal_code_sent: "portal.code_sent",
  portal_code_failed: "portal.code_failed",
  portal_locked: "portal.lock",
  portal_viewed: "portal.view",
  portal_downloaded: "portal.download",
  portal_replied: "portal.reply",
  portal_revoked: "portal.revoke",
};

type Link = Pick<PortalLinksTable, "org_id" | "message_id" | "delivery_id">;

export function anonymous(actor: PortalActor): AuditActor {
  return { actorType: "anonymous", actorId: null, sourceIp: actor.sourceIp, requestId: actor.requestId };
}

/** The event row and the audit entry; `durable`: the audit entry is committed before this resolves. */
export async function recordPortal(
  deps: Pick<PortalDeps, "db" | "clock" | "audit" | "webhookOutbox">,
  link: Link,
  type: PortalEvent,
  actor: AuditActor,
  extra: { details?: Record<string, string | number>; durable?: boolean } = {},
): Promise<void> {
  const now = deps.clock.now();
  const events = [
    {
      id: newId("evt", now),
      org_id: link.org_id,
      message_id: link.message_id,
      delivery_id: link.delivery_id,
      type,
      created_at: now,
      details: JSON.stringify(extra.details ?? {}),
    },
  ];
  const webhooks = (await deps.webhookOutbox?.rowsFor(events)) ?? [];
  await insertPortalEvents(systemScope(deps.db, link.org_id, "worker"), events, webhooks);
  const entry = {
    chain: link.org_id,
    ...actor,
    action: ACTIONS[type],
    targetType: "delivery",
    targetId: link.delivery_id,
    outcome: "ok" as const,
    details: { message_id: link.message_id, ...(extra.details ?? {}) },
  };
  if (extra.durable === true) await deps.audit.recordNow(entry);
  else deps.audit.record(entry);
}
