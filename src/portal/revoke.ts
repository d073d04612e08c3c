import type { AuditActor } from "../audit/entries.ts";
import { SealpostError } from "../core/errors.ts";
import { findMessage } from "../store/messages.ts";
import { revokeLinks } from "../store/portal.ts";
import type { OrgScope } from "../store/scope.ts";
import { recordPortal } from "./events.ts";
import type { PortalDeps } from "./types.ts";

/**
 * The sender withdraws a message from the portal (ADR 0010 §6): every link of the message
 * stops working at once (sessions and codes too), each revocation an event and a durable
 * audit entry by the calling key. Revoking again revokes nothing more.
 */
export async function revokeMessage(
  deps: Pick<PortalDeps, "db" | "clock" | "audit" | "webhookOutbox">,
  scope: OrgScope,
  messageId: string,
  actor: AuditActor,
): Promise<number> {
  const message = await findMessage(scope, messageId);
  if (message === undefined) throw new SealpostError("not_found");
  const revoked = await revokeLinks(scope, message.id, deps.clock.now());
  for (const link of revoked)
    await recordPortal(
      deps,
      { org_id: message.org_id, message_id: message.id, delivery_id: link.delivery_id },
      "portal_revoked",
      actor,
      { durable: true },
    );
  return revoked.length;
}
