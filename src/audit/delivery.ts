import type { EventsTable } from "../store/schema.ts";
import type { AuditActor } from "./entries.ts";
import type { AuditEntryInput, DetailValue } from "./types.ts";

/**
 * The audit entries of delivery events (ADR 0009 §2): `delivery.<event type>` (queued,
 * scheduled, sent, delivered, deferred, bounced, failed, suppressed), one per event, named by
 * the delivery id, with the attempt's TLS evidence and the failure reason in details. Never
 * the recipient: the evidence is copied field by field, and reply texts are left out.
 */

/** The allow-listed fields of an event's evidence JSON (worker/steps.ts evidenceJson). */
function evidenceDetails(raw: string): Record<string, DetailValue> {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return {};
  }
  const out: Record<string, DetailValue> = {};
  const copy = (from: string, to: string, type: "string" | "number" | "boolean") => {
    const v = e[from];
    if (typeof v === type) out[to] = v as DetailValue;
  };
  copy("reason", "reason", "string");
  copy("reply_code", "reply_code", "number");
  copy("enhanced_code", "enhanced_status", "string");
  copy("tls_version", "tls_version", "string");
  copy("cipher", "tls_cipher", "string");
  copy("cert_verified", "cert_verified", "boolean");
  copy("sandbox", "sandbox", "boolean");
  const sts = e.mta_sts as { mode?: unknown } | undefined;
  if (typeof sts?.mode === "string") out.mta_sts = sts.mode;
  const protection = e.encryption as { mode?: unknown } | undefined;
  if (typeof protection?.mode === "string") out.encryption = protection.mode;
  return out;
}

/**
 * One event of a delivery as its audit entry, in the message's org chain: `actor` is the
 * submitting key (queued, scheduled, suppressed at submit) or the worker; `attempt` the
 * attempt that produced it.
 */
export function deliveryEntry(actor: AuditActor, event: EventsTable, attempt?: number): AuditEntryInput {
  return {
    chain: event.org_id,
    ...actor,
    action: `delivery.${event.type}`,
    ...(event.delivery_id === null
      ? { targetType: "message", targetId: event.message_id }
      : { targetType: "delivery", targetId: event.delivery_id }),
    outcome: "ok",
    details: {
      message_id: event.message_id,
      ...(attempt === undefined ? {} : { attempt }),
      ...evidenceDetails(event.details),
    },
  };
}
