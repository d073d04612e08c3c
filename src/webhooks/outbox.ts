import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Db } from "../store/db.ts";
import type { EventsTable, WebhookDeliveriesTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";
import { activeWebhooks } from "../store/webhooks.ts";

/**
 * The webhook outbox (ADR 0011 §3): every transaction that inserts events also inserts
 * their webhook deliveries, so a committed event is never missed and never sent twice.
 * The event writers ask `rowsFor(events)` before their transaction and insert what it
 * returns in it. Each org's active endpoints come from a 5-second cache (wall time), so an
 * org without webhooks costs a map lookup; a change on this node invalidates at once, on
 * other nodes within 5 s.
 */
export const ENDPOINT_TTL_MS = 5_000;

interface Endpoint {
  readonly id: string;
  /** Empty: every type. */
  readonly types: ReadonlySet<string>;
}

interface Cached {
  readonly at: number;
  readonly endpoints: Promise<readonly Endpoint[]>;
}

type EventLike = Pick<EventsTable, "id" | "org_id" | "type" | "created_at">;

function typesOf(json: string): ReadonlySet<string> {
  try {
    const list: unknown = JSON.parse(json);
    return new Set(Array.isArray(list) ? list.filter((t): t is string => typeof t === "string") : []);
  } catch {
    return new Set();
  }
}

export class WebhookOutbox {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #wallNow: () => number;
  readonly #cache = new Map<string, Cached>();

  /** `clock` stamps the rows (the app's clock); the cache ages in `wallNow` (real) time. */
  constructor(deps: { db: Db; clock: Clock; wallNow?: () => number }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#wallNow = deps.wallNow ?? Date.now;
  }

  /** Forget an org's endpoints (after a change on this node). */
  invalidate(orgId: string): void {
    this.#cache.delete(orgId);
  }

  #endpoints(orgId: string): Promise<readonly Endpoint[]> {
    const now = this.#wallNow();
    const hit = this.#cache.get(orgId);
    if (hit !== undefined && now - hit.at < ENDPOINT_TTL_MS) return hit.endpoints;
    const endpoints = activeWebhooks(systemScope(this.#db, orgId, "worker")).then((rows) =>
      rows.map((r) => ({ id: r.id, types: typesOf(r.event_types) })),
    );
    this.#cache.set(orgId, { at: now, endpoints });
    // A failed read is not cached: the next writer asks again.
    endpoints.catch(() => {
      if (this.#cache.get(orgId)?.endpoints === endpoints) this.#cache.delete(orgId);
    });
    return endpoints;
  }

  /**
   * For writers whose events are made inside their transaction (the cancel): the orgs'
   * endpoints are read first, and the returned function builds the rows without a query.
   */
  async planFor(
    orgIds: Iterable<string>,
  ): Promise<(events: readonly EventLike[]) => WebhookDeliveriesTable[]> {
    const byOrg = new Map<string, readonly Endpoint[]>();
    for (const orgId of new Set(orgIds)) byOrg.set(orgId, await this.#endpoints(orgId));
    return (events) => {
      const now = this.#clock.now();
      const rows: WebhookDeliveriesTable[] = [];
      for (const e of events)
        for (const w of byOrg.get(e.org_id) ?? [])
          if (w.types.size === 0 || w.types.has(e.type)) rows.push(outboxRow(w.id, e, now));
      return rows;
    };
  }

  /** The outbox rows of these events: one per event and subscribed active endpoint of its org. */
  async rowsFor(events: readonly EventLike[]): Promise<WebhookDeliveriesTable[]> {
    if (events.length === 0) return [];
    return (await this.planFor(events.map((e) => e.org_id)))(events);
  }
}

/** A pending delivery of `e` to one endpoint, due now; `e.id` null for a test send. */
export function outboxRow(
  webhookId: string,
  e: Pick<EventsTable, "org_id" | "type"> & { id: string | null },
  now: number,
): WebhookDeliveriesTable {
  return {
    id: newId("whd", now),
    org_id: e.org_id,
    webhook_id: webhookId,
    event_id: e.id,
    event_type: e.type,
    status: "pending",
    attempts: 0,
    due_at: now,
    lease_owner: null,
    last_status: null,
    last_error: null,
    created_at: now,
    updated_at: now,
    delivered_at: null,
  };
}
