import { eventView } from "../events/view.ts";
import type { EventsTable, WebhookDeliveriesTable } from "../store/schema.ts";

/**
 * The body of a webhook (ADR 0011 §3): `{type, timestamp, data}`, where `data` is the
 * event's allow-listed view (src/events/view.ts), the very one the events API answers, so
 * nothing reaches a webhook that the events API would not show: no address, no reply
 * text, no content. A test send's data names only the endpoint and the delivery.
 */
export const TEST_EVENT = "webhook.test";

export function eventPayload(e: EventsTable): string {
  return JSON.stringify({
    type: e.type,
    timestamp: new Date(e.created_at).toISOString(),
    data: eventView(e),
  });
}

export function testPayload(d: Pick<WebhookDeliveriesTable, "id" | "webhook_id" | "created_at">): string {
  return JSON.stringify({
    type: TEST_EVENT,
    timestamp: new Date(d.created_at).toISOString(),
    data: { object: "webhook_test", webhook_id: d.webhook_id, delivery_id: d.id },
  });
}
