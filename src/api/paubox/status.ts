import type { DeliveriesTable, DeliveryStatus } from "../../store/schema.ts";

/**
 * sealpost delivery states as the Paubox message receipt reports them
 * (`status.deliveryStatus`). The table lives here and only here; docs/paubox-compatibility.md
 * shows it.
 */
export type PauboxDeliveryStatus =
  | "processing"
  | "soft bounced"
  | "soft bounced - mailbox full"
  | "hard bounced"
  | "delivered"
  | "TLS not offered, sending via Secure Portal"
  | "delivered via secure portal"
  // Paubox cannot cancel; sealpost's own API can, and says so rather than invent a bounce.
  | "cancelled";

/**
 * The secure portal of a delivery, once the portal exists (a later issue records it):
 * why the content went to the portal, and whether the recipient's notice was delivered.
 */
export interface PortalFacts {
  reason: "no_tls" | "forced";
  notified: boolean;
}

export interface DeliveryFacts {
  /** `scheduled` (send_at) waits like `queued`. */
  status: DeliveryStatus | "scheduled";
  /** Enhanced status code of the last reply (RFC 3463), e.g. "4.2.2", when there was one. */
  enhancedCode: string | null;
  portal: PortalFacts | null;
}

export function pauboxDeliveryStatus(f: DeliveryFacts): PauboxDeliveryStatus {
  if (f.portal !== null) {
    if (f.portal.notified) return "delivered via secure portal";
    return f.portal.reason === "no_tls" ? "TLS not offered, sending via Secure Portal" : "processing";
  }
  switch (f.status) {
    case "scheduled":
    case "queued":
    case "sending":
      return "processing";
    case "deferred":
      // X.2.2: mailbox full (RFC 3463).
      return f.enhancedCode?.endsWith(".2.2") === true ? "soft bounced - mailbox full" : "soft bounced";
    case "delivered":
      return "delivered";
    // A 5xx, a permanent failure or retries given up: the message will not arrive. A
    // suppressed address was not tried at all, because it bounced (or opted out) before.
    case "bounced":
    case "failed":
    case "suppressed":
      return "hard bounced";
    case "cancelled":
      return "cancelled";
  }
}

function enhancedCodeOf(evidence: string | null): string | null {
  if (evidence === null) return null;
  try {
    const parsed = JSON.parse(evidence) as { enhanced_code?: unknown };
    return typeof parsed.enhanced_code === "string" ? parsed.enhanced_code : null;
  } catch {
    return null;
  }
}

export interface PauboxReceiptStatus {
  deliveryStatus: PauboxDeliveryStatus;
  /** RFC 2822 date (as Paubox writes it) of the delivery, for delivered states only. */
  deliveryTime: string | null;
  /**
   * Opens are tracked per message (ADR 0011 §6), so every recipient shows the message's first
   * open; "unopened" when there was none or the org does not track opens.
   */
  openedStatus: "opened" | "unopened";
  openedTime: string | null;
}

export function receiptStatus(d: DeliveriesTable, openedAt: number | null = null): PauboxReceiptStatus {
  const deliveryStatus = pauboxDeliveryStatus({
    status: d.status,
    enhancedCode: enhancedCodeOf(d.evidence),
    // The secure portal does not exist yet; it will fill this in.
    portal: null,
  });
  const delivered = deliveryStatus === "delivered" || deliveryStatus === "delivered via secure portal";
  return {
    deliveryStatus,
    deliveryTime: delivered ? new Date(d.updated_at).toUTCString() : null,
    openedStatus: openedAt === null ? "unopened" : "opened",
    openedTime: openedAt === null ? null : new Date(openedAt).toUTCString(),
  };
}
