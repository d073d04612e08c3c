import { open, seal, sealJson } from "../crypto/aead.ts";
import { normalizeAddress } from "../crypto/blind-index.ts";
import type { SubmissionRows } from "../store/messages.ts";
import type { DeliveriesTable, EventsTable, MessagesTable } from "../store/schema.ts";
import { scopeOf } from "../store/scope.ts";
import { suppressedAmong } from "../store/suppressions.ts";
import { sealAttachmentParts } from "./attachment-parts.ts";
import { newId } from "./ids.ts";
import type { StoredContent, ValidatedMessage } from "./message.ts";
import type { Principal } from "./principal.ts";
import type { SubmitDeps, SubmitResult } from "./submit.ts";

/**
 * Submit steps "encrypt at rest" and "enqueue": turns a validated message into the rows
 * one durable commit writes (sealed content, one delivery per recipient, their events),
 * and turns stored rows back into the submit answer (for idempotent replays).
 */
export function recipientAad(deliveryId: string): string {
  return `rcpt:${deliveryId}`;
}
export function contentAad(messageId: string): string {
  return `content:${messageId}`;
}

function display(r: { name: string | null; address: string }): string {
  return r.name ? `${r.name} <${r.address}>` : r.address;
}

export async function buildRows(
  deps: SubmitDeps,
  principal: Principal,
  msg: ValidatedMessage,
  idem: { hash: string; request: string } | null,
): Promise<SubmissionRows> {
  const now = deps.clock.now();
  const messageId = newId("msg", now);
  const dek = await deps.keyring.newMessageKey(principal.orgId, messageId);
  const content: StoredContent = {
    v: 1,
    from: { name: msg.from.name, address: msg.from.address },
    to: msg.recipients.filter((r) => r.kind === "to").map(display),
    cc: msg.recipients.filter((r) => r.kind === "cc").map(display),
    replyTo: msg.replyTo.map(display),
    subject: msg.subject,
    text: msg.text,
    html: msg.html,
    headers: msg.headers,
    metadata: msg.metadata,
    attachments: msg.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      contentId: a.contentId,
      size: a.content.length,
    })),
  };
  const size =
    msg.attachments.reduce((n, a) => n + a.content.length, 0) +
    Buffer.byteLength(msg.text ?? "") +
    Buffer.byteLength(msg.html ?? "");
  // A scheduled message waits in the queue until send_at (ADR 0004); its retry window
  // starts then.
  const sendAt = msg.sendAt !== null && msg.sendAt > now ? msg.sendAt : null;
  const startAt = sendAt ?? now;
  const accepted = sendAt === null ? "queued" : "scheduled";
  const details = sendAt === null ? "{}" : JSON.stringify({ send_at: new Date(sendAt).toISOString() });
  const deliveries: DeliveriesTable[] = [];
  const events: EventsTable[] = [];
  const bidxs = await Promise.all(
    msg.recipients.map((r) => deps.keyring.addressIndex(principal.orgId, normalizeAddress(r.address))),
  );
  // Step "suppression": a suppressed address gets a final `suppressed` delivery, no attempt.
  const suppressed = await suppressedAmong(scopeOf(deps.db, principal), bidxs);
  for (const [i, r] of msg.recipients.entries()) {
    const id = newId("dlv", now);
    const bidx = bidxs[i] ?? "";
    const blocked = suppressed.has(bidx);
    deliveries.push({
      id,
      message_id: messageId,
      org_id: principal.orgId,
      kind: r.kind,
      recipient: seal(dek.key, Buffer.from(r.address, "utf8"), recipientAad(id)),
      recipient_bidx: bidx,
      domain_bidx: await deps.keyring.domainIndex(principal.orgId, r.asciiDomain),
      status: blocked ? "suppressed" : accepted,
      due_at: blocked ? null : startAt,
      lease_owner: null,
      attempts: 0,
      expires_at: startAt + deps.maxDeliveryMs,
      created_at: now,
      updated_at: now,
      last_reason: blocked ? "suppressed" : null,
      evidence: null,
      encryption: null,
    });
    for (const type of blocked ? [accepted, "suppressed"] : [accepted])
      events.push({
        id: newId("evt", now),
        org_id: principal.orgId,
        message_id: messageId,
        delivery_id: id,
        type,
        created_at: now,
        details: type === accepted ? details : "{}",
      });
  }
  return {
    message: {
      id: messageId,
      org_id: principal.orgId,
      mode: principal.mode === "test" || msg.sandbox ? "test" : "live",
      created_at: now,
      api_key_id: principal.keyId,
      from_domain: msg.from.asciiDomain,
      encryption: msg.encryption,
      allow_non_tls: msg.allowNonTls ? 1 : 0,
      phi: msg.phi == null ? null : JSON.stringify(msg.phi),
      template_id: msg.template?.id ?? null,
      template_version: msg.template?.version ?? null,
      tags: JSON.stringify(msg.tags),
      recipient_count: msg.recipients.length,
      attachment_count: msg.attachments.length,
      size_bytes: size,
      content: sealJson(dek.key, content, contentAad(messageId)),
      data_key: dek.wrapped,
      data_key_id: dek.keyId,
      idempotency_hash: idem?.hash ?? null,
      request_hash: idem?.request ?? null,
      send_at: sendAt,
      content_purged_at: null,
    },
    attachments: msg.attachments.flatMap((a, idx) =>
      sealAttachmentParts(dek.key, principal.orgId, messageId, idx, a.content),
    ),
    deliveries,
    events,
  };
}

function answer(
  m: MessagesTable,
  deliveries: readonly { id: string; to: string; kind: "to" | "cc" | "bcc"; suppressed: boolean }[],
): SubmitResult {
  const status = m.send_at === null ? "queued" : "scheduled";
  return {
    id: m.id,
    status,
    created_at: new Date(m.created_at).toISOString(),
    send_at: m.send_at === null ? null : new Date(m.send_at).toISOString(),
    deliveries: deliveries.map((d) => ({
      id: d.id,
      to: d.to,
      kind: d.kind,
      status: d.suppressed ? "suppressed" : status,
    })),
  };
}

/** The answer for rows just committed; recipients in the order given. */
export function acceptedResult(rows: SubmissionRows, msg: ValidatedMessage): SubmitResult {
  return answer(
    rows.message,
    rows.deliveries.map((d, i) => ({
      id: d.id,
      to: msg.recipients[i]?.address ?? "",
      kind: d.kind,
      suppressed: d.status === "suppressed",
    })),
  );
}

/**
 * The first answer, as it was, rebuilt from stored rows: every delivery had just been
 * queued or scheduled (or suppressed), whatever happened to it since.
 */
export async function storedResult(
  deps: SubmitDeps,
  m: MessagesTable,
  deliveries: readonly DeliveriesTable[],
): Promise<SubmitResult> {
  const dek =
    m.data_key === null ? null : await deps.keyring.openMessageKey(m.org_id, m.id, m.data_key, m.data_key_id);
  return answer(
    m,
    deliveries.map((d) => ({
      id: d.id,
      to: dek === null ? "" : open(dek, Buffer.from(d.recipient), recipientAad(d.id)).toString("utf8"),
      kind: d.kind,
      // Only submission suppresses with the reason "suppressed" and no attempt.
      suppressed: d.last_reason === "suppressed" && d.attempts === 0,
    })),
  );
}
