import type { Keyring } from "../core/keyring.ts";
import { openContent } from "../core/submit.ts";
import type { PhiSummary } from "../phi/types.ts";
import type { DeliveriesTable, EventsTable, MessagesTable } from "../store/schema.ts";
import { openRecipient } from "../worker/prepare.ts";

/** JSON shapes the API returns for stored rows. Content only when asked for and allowed. */
export function aggregateStatus(statuses: readonly string[]): string {
  if (statuses.length === 0) return "queued";
  const has = (s: string) => statuses.includes(s);
  if (statuses.every((s) => s === "cancelled")) return "cancelled";
  if (has("sending")) return "sending";
  if (has("deferred")) return "deferred";
  if (has("queued")) return "queued";
  if (has("scheduled")) return "scheduled";
  if (statuses.every((s) => s === "delivered")) return "delivered";
  if (statuses.every((s) => s === "suppressed")) return "suppressed";
  if (statuses.every((s) => s === "bounced")) return "bounced";
  if (statuses.every((s) => s !== "delivered")) return "failed";
  return "partially_delivered";
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function deliveryView(d: DeliveriesTable, dek: Buffer | null) {
  return {
    id: d.id,
    to: dek === null ? null : openRecipient(dek, d),
    kind: d.kind,
    status: d.status,
    attempts: d.attempts,
    updated_at: iso(d.updated_at),
    next_attempt_at:
      d.status === "queued" || d.status === "deferred" || d.status === "scheduled"
        ? d.due_at === null
          ? null
          : iso(d.due_at)
        : null,
    reason: d.last_reason,
    evidence: d.evidence === null ? null : (JSON.parse(d.evidence) as unknown),
  };
}

export function eventView(e: EventsTable) {
  return {
    id: e.id,
    type: e.type,
    delivery_id: e.delivery_id,
    created_at: iso(e.created_at),
    details: JSON.parse(e.details) as unknown,
  };
}

export async function messageDek(keyring: Keyring, m: MessagesTable): Promise<Buffer | null> {
  return m.data_key === null ? null : keyring.openMessageKey(m.org_id, m.id, m.data_key, m.data_key_id);
}

export function messageView(
  m: MessagesTable,
  deliveries: readonly DeliveriesTable[],
  dek: Buffer | null,
  opts: { events?: readonly EventsTable[]; content?: boolean } = {},
) {
  const content =
    opts.content === true && dek !== null && m.content !== null ? openContent(dek, m.id, m.content) : null;
  return {
    id: m.id,
    object: "message",
    created_at: iso(m.created_at),
    mode: m.mode,
    status: aggregateStatus(deliveries.map((d) => d.status)),
    send_at: m.send_at === null ? null : iso(m.send_at),
    encryption: m.encryption,
    // What the step "phi" found, as counts (ADR 0010 §2); null when nothing was found.
    phi: m.phi === null ? null : (JSON.parse(m.phi) as PhiSummary),
    // allow_non_tls was asked for, allowed by the org policy, and the message had no PHI.
    allow_non_tls_honoured: m.allow_non_tls === 1,
    tags: JSON.parse(m.tags) as string[],
    // The template version the message was rendered from (ADR 0011 §1); null: none.
    template: m.template_id === null ? null : { id: m.template_id, version: m.template_version },
    recipient_count: m.recipient_count,
    attachment_count: m.attachment_count,
    size_bytes: m.size_bytes,
    // When retention destroyed the content (ADR 0009 §4); recipients read null from then on.
    content_purged_at: m.content_purged_at === null ? null : iso(m.content_purged_at),
    deliveries: deliveries.map((d) => deliveryView(d, dek)),
    ...(opts.events === undefined ? {} : { events: opts.events.map(eventView) }),
    ...(content === null
      ? {}
      : {
          content: {
            from: content.from,
            to: content.to,
            cc: content.cc,
            reply_to: content.replyTo,
            subject: content.subject,
            text: content.text,
            html: content.html,
            headers: content.headers,
            metadata: content.metadata,
            attachments: content.attachments.map((a) => ({
              filename: a.filename,
              content_type: a.contentType,
              size: a.size,
            })),
          },
        }),
  };
}
