import type { WebhookDeliveriesTable, WebhooksTable } from "../store/schema.ts";

/**
 * The public JSON of an endpoint and of its delivery log entries (ADR 0011 §3). An
 * endpoint's secret appears only in the answers of create and rotate-secret.
 */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function webhookView(row: WebhooksTable, secret?: string) {
  return {
    object: "webhook" as const,
    id: row.id,
    url: row.url,
    event_types: JSON.parse(row.event_types) as string[],
    enabled: row.enabled === 1,
    disabled_at: iso(row.disabled_at),
    disabled_reason: row.disabled_reason,
    failing_since: iso(row.failing_since),
    previous_secret_expires_at: iso(row.prev_secret_expires_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    ...(secret === undefined ? {} : { secret }),
  };
}

export function webhookDeliveryView(d: WebhookDeliveriesTable) {
  return {
    object: "webhook_delivery" as const,
    id: d.id,
    webhook_id: d.webhook_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === "pending" ? iso(d.due_at) : null,
    last_status: d.last_status,
    last_error: d.last_error,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
    delivered_at: iso(d.delivered_at),
  };
}

const nullableTime = { type: ["string", "null"], format: "date-time" } as const;

export const webhookSchema = {
  type: "object",
  properties: {
    object: { type: "string", enum: ["webhook"] },
    id: { type: "string" },
    url: { type: "string" },
    event_types: { type: "array", items: { type: "string" }, description: "Empty: every type." },
    enabled: { type: "boolean" },
    disabled_at: nullableTime,
    disabled_reason: { type: ["string", "null"], enum: ["failing", "gone", null] },
    failing_since: nullableTime,
    previous_secret_expires_at: nullableTime,
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
    secret: { type: "string", description: "Only in the answers of create and rotate-secret." },
  },
} as const;

export const webhookDeliverySchema = {
  type: "object",
  properties: {
    object: { type: "string", enum: ["webhook_delivery"] },
    id: { type: "string", description: "Also the webhook-id header: the same on every retry." },
    webhook_id: { type: "string" },
    event_id: { type: ["string", "null"], description: "Null for a test send." },
    event_type: { type: "string" },
    status: { type: "string", enum: ["pending", "succeeded", "failed"] },
    attempts: { type: "integer" },
    next_attempt_at: nullableTime,
    last_status: { type: ["integer", "null"], description: "The HTTP status of the last attempt." },
    last_error: {
      type: ["string", "null"],
      description: "timeout, connection_failed, http_<status>, ssrf_refused, endpoint_disabled, event_purged",
    },
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
    delivered_at: nullableTime,
  },
} as const;
