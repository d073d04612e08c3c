import { Readable } from "node:stream";
import { openAttachmentStream } from "../core/attachment-parts.ts";
import { attachmentPartsOf } from "../store/messages.ts";
import { countView } from "../store/portal.ts";
import { anonymous, recordPortal } from "./events.ts";
import { sendReply } from "./mail.ts";
import type { MessageView } from "./pages/message.ts";
import { contentOf, type OpenLink } from "./state.ts";
import type { PortalActor, PortalDeps } from "./types.ts";

/**
 * What a verified visitor may do (ADR 0010 §6): read the message (its HTML cleaned),
 * download an attachment (streamed part by part from the store, as the worker reads it),
 * and reply. Each is an event and an audit entry.
 */
export const MAX_REPLY_CHARS = 10_000;

export async function viewMessage(
  deps: PortalDeps,
  open: OpenLink,
  actor: PortalActor,
): Promise<MessageView> {
  const c = contentOf(open);
  // sanitize-html is loaded on first view (about 20 MB a node without portal traffic need not hold).
  const { sanitizeMessageHtml } = await import("./sanitize.ts");
  await countView(open.scope, open.link.id);
  await recordPortal(deps, open.link, "portal_viewed", anonymous(actor));
  return {
    from: c.from.name === null ? c.from.address : `${c.from.name} <${c.from.address}>`,
    subject: c.subject,
    date: open.message.send_at ?? open.message.created_at,
    text: c.text,
    safeHtml: c.html === null ? null : sanitizeMessageHtml(c.html),
    attachments: c.attachments.map((a) => ({ filename: a.filename, size: a.size })),
  };
}

export interface Download {
  readonly filename: string;
  readonly size: number;
  readonly body: Readable;
}

/** Attachment `n` (0-based) as a stream, or null when there is no such attachment. */
export async function downloadAttachment(
  deps: PortalDeps,
  open: OpenLink,
  n: number,
  actor: PortalActor,
): Promise<Download | null> {
  const c = contentOf(open);
  const a = Number.isSafeInteger(n) && n >= 0 ? c.attachments[n] : undefined;
  if (a === undefined) return null;
  const parts = attachmentPartsOf(open.scope, open.message.id, n);
  const body = Readable.from(openAttachmentStream(open.dek, open.message.id, n, a.size, parts), {
    objectMode: false,
  });
  await recordPortal(deps, open.link, "portal_downloaded", anonymous(actor), { details: { attachments: n } });
  return { filename: a.filename, size: a.size, body };
}

export type ReplyResult = { readonly kind: "sent" } | { readonly kind: "invalid"; readonly error: string };

export async function reply(
  deps: PortalDeps,
  open: OpenLink,
  text: string,
  actor: PortalActor,
): Promise<ReplyResult> {
  if (text.trim().length === 0) return { kind: "invalid", error: "Write a reply before sending it." };
  if (text.length > MAX_REPLY_CHARS)
    return { kind: "invalid", error: "The reply is too long: it can have up to 10,000 characters." };
  await sendReply(deps, open, text);
  await recordPortal(deps, open.link, "portal_replied", anonymous(actor));
  return { kind: "sent" };
}
