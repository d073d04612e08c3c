import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { changeEntry, WORKER_ACTOR } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import type { Logger } from "../logging/logger.ts";
import type { PeriodicJob } from "../retention/job.ts";
import type { Db } from "../store/db.ts";
import type { EventsTable, WebhookDeliveriesTable, WebhooksTable } from "../store/schema.ts";
import { type OrgScope, systemScope } from "../store/scope.ts";
import {
  type AttemptResult,
  claimWebhookDeliveries,
  clearFailing,
  disableWebhook,
  findEvent,
  findWebhook,
  finishWebhookDelivery,
  markFailing,
} from "../store/webhooks.ts";
import { eventPayload, testPayload } from "./payload.ts";
import { type PostOutcome, postWebhook } from "./post.ts";
import { openSecret, secretAad, signatureHeader } from "./sign.ts";
import { checkWebhookUrl, type HostLookup, REFUSALS, systemLookup, type UrlPolicy } from "./ssrf.ts";

/**
 * The webhook dispatcher (ADR 0011 §3): a periodic job of the worker role that claims due
 * outbox rows with a lease, signs and POSTs each payload, and records the result. A 2xx
 * succeeds; anything else is retried after 5 s, 5 m, 30 m, 2 h, 5 h, 10 h and 10 h (±10 %),
 * then the delivery has failed. An endpoint whose deliveries have only failed for 24 h is
 * disabled (`failing`), one that answers 410 Gone at once (`gone`); both record a
 * `webhook_disabled` event (not itself sent to webhooks) and the audit entry `webhook.disable`. A run claims
 * a bounded number of rows, never overlaps the previous one, and stop() waits for it.
 */
export const WEBHOOK_RETRY_SCHEDULE: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];
export const DISABLE_AFTER_MS = 24 * 3_600_000;

export interface DispatcherDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  audit: AuditLog;
  policy: UrlPolicy;
  lookup?: HostLookup;
  /** Extra trust anchors for https receivers (SEALPOST_EXTRA_CA_FILE). */
  ca?: string | undefined;
  /** Delays before each retry; tests shorten it. */
  schedule?: readonly number[];
  random?: () => number;
  pollMs?: number;
  leaseMs?: number;
  /** Deliveries claimed at once; runs claim again while a claim comes back full, up to 10 times. */
  batch?: number;
  timeoutMs?: number;
}

const MAX_ROUNDS = 10;

type Attempt =
  | { ok: true; status: number }
  | { ok: false; status: number | null; error: string; gone: boolean };

export function webhookDispatcher(deps: DispatcherDeps): PeriodicJob {
  const owner = `${hostname()}:${process.pid}:whd:${randomBytes(4).toString("hex")}`;
  const schedule = deps.schedule ?? WEBHOOK_RETRY_SCHEDULE;
  const random = deps.random ?? Math.random;
  const pollMs = deps.pollMs ?? 1000;
  const leaseMs = deps.leaseMs ?? 60_000;
  const batch = deps.batch ?? 16;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopping = false;

  async function run(): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS && !stopping; round++) {
      const claimed = await claimWebhookDeliveries(deps.db, owner, deps.clock.now(), leaseMs, batch);
      await Promise.all(claimed.map((d) => deliver(d)));
      if (claimed.length < batch) return;
    }
  }

  async function deliver(d: WebhookDeliveriesTable): Promise<void> {
    const scope = systemScope(deps.db, d.org_id, "worker");
    try {
      const endpoint = await findWebhook(scope, d.webhook_id);
      if (endpoint === undefined || endpoint.enabled !== 1 || endpoint.disabled_at !== null) {
        await finish(scope, d, { ok: false, status: null, error: "endpoint_disabled", gone: false }, null);
        return;
      }
      const body = await payloadOf(scope, d);
      if (body === null) {
        await finish(scope, d, { ok: false, status: null, error: "event_purged", gone: false }, null);
        return;
      }
      const attempt = await send(endpoint, d, body);
      await finish(scope, d, attempt, endpoint);
    } catch (err) {
      // A bug or an unreachable store: the lease expires and the row is tried again.
      deps.logger.error({ err, webhookDeliveryId: d.id }, "webhook delivery crashed");
    }
  }

  async function payloadOf(scope: OrgScope, d: WebhookDeliveriesTable): Promise<string | null> {
    if (d.event_id === null) return testPayload(d);
    const event = await findEvent(scope, d.event_id);
    return event === undefined ? null : eventPayload(event);
  }

  async function secretsOf(w: WebhooksTable, now: number): Promise<string[]> {
    const out = [await openSecret(deps.keyring, w.org_id, w.secret, secretAad(w.id, "current"))];
    if (w.prev_secret !== null && (w.prev_secret_expires_at ?? 0) > now)
      out.push(await openSecret(deps.keyring, w.org_id, w.prev_secret, secretAad(w.id, "prev")));
    return out;
  }

  async function send(w: WebhooksTable, d: WebhookDeliveriesTable, body: string): Promise<Attempt> {
    let target: Awaited<ReturnType<typeof checkWebhookUrl>>;
    try {
      target = await checkWebhookUrl(w.url, deps.policy, deps.lookup ?? systemLookup);
    } catch (err) {
      const unresolved = (err as { detail?: string }).detail === REFUSALS.unresolved;
      return {
        ok: false,
        status: null,
        error: unresolved ? "connection_failed" : "ssrf_refused",
        gone: false,
      };
    }
    const at = new Date(deps.clock.now());
    const address = target.addresses[0];
    if (address === undefined) return { ok: false, status: null, error: "connection_failed", gone: false };
    const outcome: PostOutcome = await postWebhook({
      url: target.url,
      address,
      body,
      ca: deps.ca,
      ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
      headers: {
        "webhook-id": d.id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": signatureHeader(await secretsOf(w, at.getTime()), d.id, at, body),
      },
    });
    if (outcome.kind === "error") return { ok: false, status: null, error: outcome.code, gone: false };
    const status = outcome.status;
    if (status >= 200 && status < 300) return { ok: true, status };
    return { ok: false, status, error: `http_${status}`, gone: status === 410 };
  }

  async function finish(
    scope: OrgScope,
    d: WebhookDeliveriesTable,
    attempt: Attempt,
    endpoint: WebhooksTable | null,
  ): Promise<void> {
    const now = deps.clock.now();
    const fence = { id: d.id, owner, attempt: d.attempts };
    let result: AttemptResult;
    if (attempt.ok) {
      result = {
        status: "succeeded",
        due_at: null,
        last_status: attempt.status,
        last_error: null,
        delivered_at: now,
        updated_at: now,
      };
    } else {
      const delay = endpoint === null || attempt.gone ? undefined : schedule[d.attempts - 1];
      const jittered = delay === undefined ? null : Math.round(delay * (0.9 + 0.2 * random()));
      result = {
        status: jittered === null ? "failed" : "pending",
        due_at: jittered === null ? null : now + jittered,
        last_status: attempt.status,
        last_error: attempt.error,
        delivered_at: null,
        updated_at: now,
      };
    }
    if (!(await finishWebhookDelivery(scope, fence, result))) return;
    if (endpoint === null) return;
    if (attempt.ok) {
      if (endpoint.failing_since !== null) await clearFailing(scope, endpoint.id);
      return;
    }
    if (attempt.gone) return disable(scope, endpoint, now, "gone");
    const since = await markFailing(scope, endpoint.id, now);
    if (now - since >= DISABLE_AFTER_MS) await disable(scope, endpoint, now, "failing");
  }

  async function disable(scope: OrgScope, w: WebhooksTable, now: number, reason: string): Promise<void> {
    // An org-level event: no message, so message_id is "" (the events view shows null).
    const event: EventsTable = {
      id: newId("evt", now),
      org_id: w.org_id,
      message_id: "",
      delivery_id: null,
      type: "webhook_disabled",
      created_at: now,
      details: JSON.stringify({ webhook_id: w.id, reason }),
    };
    if (!(await disableWebhook(scope, w.id, now, reason, event))) return;
    await deps.audit.recordNow(
      changeEntry(WORKER_ACTOR, w.org_id, "webhook.disable", { type: "webhook", id: w.id }, { reason }),
    );
    deps.logger.warn({ webhookId: w.id, reason }, "webhook endpoint disabled");
  }

  const tick = (): void => {
    if (running !== null || stopping) return;
    running = run()
      .catch((err: unknown) => deps.logger.error({ err }, "webhook dispatch run failed"))
      .finally(() => {
        running = null;
      });
  };

  return {
    start() {
      if (timer !== null) return;
      stopping = false;
      timer = setInterval(tick, pollMs);
      timer.unref();
      tick();
    },
    async stop() {
      stopping = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
