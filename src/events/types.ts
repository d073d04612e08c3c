/**
 * The event types the events API lists and filters on (ADR 0011 §2): PRODUCT §12's delivery
 * and portal events, `scheduled`, the portal's other events, a DSN's `report` and the
 * webhook endpoint's `webhook_disabled`. Webhook subscriptions name the same types.
 */
export const EVENT_TYPES = [
  "queued",
  "scheduled",
  "sent",
  "delivered",
  "deferred",
  "bounced",
  "failed",
  "suppressed",
  "cancelled",
  "report",
  "opened",
  "portal_notified",
  "portal_viewed",
  "portal_code_sent",
  "portal_code_failed",
  "portal_locked",
  "portal_downloaded",
  "portal_replied",
  "portal_revoked",
  "webhook_disabled",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);

export function isEventType(value: string): value is EventType {
  return KNOWN.has(value);
}
