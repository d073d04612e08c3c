import { type AuditActor, changeEntry } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import { EVENT_TYPES } from "../events/types.ts";
import type { Db } from "../store/db.ts";
import type { WebhookDeliveriesTable, WebhooksTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import {
  deleteWebhook,
  findWebhook,
  insertOrgDeliveries,
  insertWebhook,
  listWebhookDeliveries,
  listWebhooks,
  updateWebhook,
  type WebhookPatch,
} from "../store/webhooks.ts";
import { outboxRow, type WebhookOutbox } from "./outbox.ts";
import { TEST_EVENT } from "./payload.ts";
import { newSecret, openSecret, sealSecret, secretAad } from "./sign.ts";
import { checkWebhookUrl, type HostLookup, type UrlPolicy } from "./ssrf.ts";

/**
 * Webhook endpoints of an org (ADR 0011 §3): create (the URL SSRF-checked, a new secret
 * shown once), update, delete, rotate the secret with an overlap, queue a test delivery,
 * and read the delivery log. Changes are audited (`webhook.create|update|delete|rotate`)
 * with counts and states only, never the URL (it may carry a token), and invalidate this
 * node's outbox cache at once.
 */
export interface WebhookDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  audit: AuditLog;
  outbox: WebhookOutbox;
  policy: UrlPolicy;
  lookup?: HostLookup;
}

/**
 * The event types an endpoint may subscribe to: those of the events API (ADR 0011 §2) but
 * `webhook_disabled`, which is recorded, not sent.
 */
export const WEBHOOK_EVENT_TYPES: readonly string[] = EVENT_TYPES.filter((t) => t !== "webhook_disabled");

export interface WebhookChange {
  readonly url?: string;
  readonly eventTypes?: readonly string[];
  readonly enabled?: boolean;
}

/** What the API holds of webhooks (api/context.ts): this node's outbox and the URL policy. */
export interface WebhookApi {
  readonly outbox: WebhookOutbox;
  readonly policy: UrlPolicy;
}

const WHK_ID = /^whk_[0-9a-z]{26}$/;
export const MAX_OVERLAP_HOURS = 168;

function checkTypes(types: readonly string[]): string[] {
  const unique = [...new Set(types)];
  for (const t of unique)
    if (!WEBHOOK_EVENT_TYPES.includes(t))
      throw new SealpostError("invalid_value", {
        field: "event_types",
        detail: `event_types may hold only: ${EVENT_TYPES.join(", ")}.`,
      });
  return unique.sort();
}

function details(row: Pick<WebhooksTable, "event_types" | "enabled" | "disabled_at">) {
  const types = JSON.parse(row.event_types) as string[];
  return {
    count: types.length,
    state: row.enabled === 1 && row.disabled_at === null ? "enabled" : "disabled",
  };
}

async function checked(deps: WebhookDeps, url: string): Promise<string> {
  return (await checkWebhookUrl(url, deps.policy, deps.lookup)).url.toString();
}

async function owned(scope: OrgScope, id: string): Promise<WebhooksTable> {
  const row = WHK_ID.test(id) ? await findWebhook(scope, id) : undefined;
  if (row === undefined) throw new SealpostError("not_found");
  return row;
}

/** A new endpoint and its secret (shown only in this answer). */
export async function createWebhook(
  deps: WebhookDeps,
  scope: OrgScope,
  change: WebhookChange & { url: string },
  actor: AuditActor,
): Promise<{ row: WebhooksTable; secret: string }> {
  const url = await checked(deps, change.url);
  const types = checkTypes(change.eventTypes ?? []);
  const now = deps.clock.now();
  const id = newId("whk", now);
  const secret = newSecret();
  const row: WebhooksTable = {
    id,
    org_id: scope.orgId,
    url,
    event_types: JSON.stringify(types),
    enabled: change.enabled === false ? 0 : 1,
    secret: await sealSecret(deps.keyring, scope.orgId, secret, secretAad(id, "current")),
    prev_secret: null,
    prev_secret_expires_at: null,
    failing_since: null,
    disabled_at: null,
    disabled_reason: null,
    created_at: now,
    updated_at: now,
  };
  await insertWebhook(scope, row);
  deps.outbox.invalidate(scope.orgId);
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "webhook.create", { type: "webhook", id }, details(row)),
  );
  return { row, secret };
}

export async function getWebhook(scope: OrgScope, id: string): Promise<WebhooksTable> {
  return owned(scope, id);
}

export async function listOrgWebhooks(
  scope: OrgScope,
  f: { before: string | undefined; limit: number },
): Promise<WebhooksTable[]> {
  return listWebhooks(scope, f);
}

/** Changes URL, types or enabled; enabling again clears a disabling by failures. */
export async function changeWebhook(
  deps: WebhookDeps,
  scope: OrgScope,
  id: string,
  change: WebhookChange,
  actor: AuditActor,
): Promise<WebhooksTable> {
  const row = await owned(scope, id);
  const now = deps.clock.now();
  const patch: WebhookPatch = { updated_at: now };
  if (change.url !== undefined) patch.url = await checked(deps, change.url);
  if (change.eventTypes !== undefined) patch.event_types = JSON.stringify(checkTypes(change.eventTypes));
  if (change.enabled !== undefined) {
    patch.enabled = change.enabled ? 1 : 0;
    if (change.enabled)
      Object.assign(patch, { disabled_at: null, disabled_reason: null, failing_since: null });
  }
  if (!(await updateWebhook(scope, id, patch))) throw new SealpostError("not_found");
  deps.outbox.invalidate(scope.orgId);
  const updated = { ...row, ...patch };
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "webhook.update", { type: "webhook", id }, details(updated)),
  );
  return updated;
}

export async function removeWebhook(
  deps: WebhookDeps,
  scope: OrgScope,
  id: string,
  actor: AuditActor,
): Promise<void> {
  const row = await owned(scope, id);
  if (!(await deleteWebhook(scope, id))) throw new SealpostError("not_found");
  deps.outbox.invalidate(scope.orgId);
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "webhook.delete", { type: "webhook", id }, details(row)),
  );
}

/**
 * A new secret; the old one stays valid (both signatures are sent) for `overlapHours`
 * (0: not at all). The new secret is shown only in this answer.
 */
export async function rotateWebhookSecret(
  deps: WebhookDeps,
  scope: OrgScope,
  id: string,
  overlapHours: number,
  actor: AuditActor,
): Promise<{ row: WebhooksTable; secret: string }> {
  if (!Number.isInteger(overlapHours) || overlapHours < 0 || overlapHours > MAX_OVERLAP_HOURS)
    throw new SealpostError("invalid_value", {
      field: "overlap_hours",
      detail: `overlap_hours must be an integer 0-${MAX_OVERLAP_HOURS}.`,
    });
  const row = await owned(scope, id);
  const now = deps.clock.now();
  const secret = newSecret();
  const old = await openSecret(deps.keyring, scope.orgId, row.secret, secretAad(id, "current"));
  const patch: WebhookPatch = {
    secret: await sealSecret(deps.keyring, scope.orgId, secret, secretAad(id, "current")),
    prev_secret:
      overlapHours === 0 ? null : await sealSecret(deps.keyring, scope.orgId, old, secretAad(id, "prev")),
    prev_secret_expires_at: overlapHours === 0 ? null : now + overlapHours * 3_600_000,
    updated_at: now,
  };
  if (!(await updateWebhook(scope, id, patch))) throw new SealpostError("not_found");
  const expires = patch.prev_secret_expires_at ?? null;
  await deps.audit.recordNow(
    changeEntry(
      actor,
      scope.orgId,
      "webhook.rotate",
      { type: "webhook", id },
      { expires_at: expires === null ? null : new Date(expires).toISOString() },
    ),
  );
  return { row: { ...row, ...patch }, secret };
}

/** Queues a `webhook.test` delivery to the endpoint (even a disabled one is refused: enable it first). */
export async function queueTest(
  deps: WebhookDeps,
  scope: OrgScope,
  id: string,
): Promise<WebhookDeliveriesTable> {
  const row = await owned(scope, id);
  if (row.enabled !== 1 || row.disabled_at !== null)
    throw new SealpostError("invalid_state", {
      detail: "The webhook is disabled; enable it before a test send.",
    });
  const now = deps.clock.now();
  const delivery = outboxRow(id, { id: null, org_id: scope.orgId, type: TEST_EVENT }, now);
  await insertOrgDeliveries(scope, [delivery]);
  return delivery;
}

export async function deliveriesOfWebhook(
  scope: OrgScope,
  id: string,
  f: { before: string | undefined; limit: number },
): Promise<WebhookDeliveriesTable[]> {
  await owned(scope, id);
  return listWebhookDeliveries(scope, id, f);
}
