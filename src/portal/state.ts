import type { StoredContent } from "../core/message.ts";
import { openContent } from "../core/submit.ts";
import { findDelivery, findMessage } from "../store/messages.ts";
import { findLinkByTokenHash } from "../store/portal.ts";
import type { DeliveriesTable, MessagesTable, PortalLinksTable } from "../store/schema.ts";
import { type OrgScope, systemScope } from "../store/scope.ts";
import { openRecipient } from "../worker/prepare.ts";
import { sameHash } from "./codes.ts";
import { isTokenShape, tokenHash } from "./links.ts";
import { sessionHash } from "./session.ts";
import type { PortalDeps } from "./types.ts";

/**
 * What a token opens (ADR 0010 §6): a usable link with its message, or nothing — unknown
 * (404) or gone (410: expired, revoked, or its content shredded), which the pages show
 * alike. The message is decrypted only for a usable link.
 */
export interface OpenLink {
  readonly kind: "open";
  readonly token: string;
  readonly link: PortalLinksTable;
  readonly scope: OrgScope;
  readonly message: MessagesTable;
  readonly delivery: DeliveriesTable;
  readonly dek: Buffer;
}

export type LinkState = OpenLink | { readonly kind: "unknown" } | { readonly kind: "gone" };

export async function resolveLink(deps: PortalDeps, token: string): Promise<LinkState> {
  if (!isTokenShape(token)) return { kind: "unknown" };
  const link = await findLinkByTokenHash(deps.db, tokenHash(token));
  if (link === undefined) return { kind: "unknown" };
  const now = deps.clock.now();
  if (link.revoked_at !== null || link.expires_at <= now) return { kind: "gone" };
  const scope = systemScope(deps.db, link.org_id, "worker");
  const message = await findMessage(scope, link.message_id);
  const delivery = await findDelivery(scope, link.delivery_id);
  if (
    message === undefined ||
    delivery === undefined ||
    message.data_key === null ||
    message.content === null ||
    message.content_purged_at !== null
  )
    return { kind: "gone" };
  const dek = await deps.keyring.openMessageKey(
    message.org_id,
    message.id,
    message.data_key,
    message.data_key_id,
  );
  return { kind: "open", token, link, scope, message, delivery, dek };
}

/** Minutes left on a lock (rounded up), or 0 when the link is not locked. */
export function lockedMinutes(link: PortalLinksTable, now: number): number {
  return link.locked_until === null || link.locked_until <= now
    ? 0
    : Math.ceil((link.locked_until - now) / 60_000);
}

/** Whether the cookie's session is this link's live session. */
export function sessionValid(link: PortalLinksTable, session: string | null, now: number): boolean {
  if (session === null || link.session_hash === null || link.session_expires_at === null) return false;
  return link.session_expires_at > now && sameHash(sessionHash(session), link.session_hash);
}

export function contentOf(open: OpenLink): StoredContent {
  const sealed = open.message.content;
  if (sealed === null) throw new Error("content missing");
  return openContent(open.dek, open.message.id, sealed);
}

export function recipientOf(open: OpenLink): string {
  return openRecipient(open.dek, open.delivery);
}
