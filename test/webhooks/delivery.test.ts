/**
 * Webhook delivery end to end (ADR 0011 §3) on a real in-process sealpost and a real HTTP
 * receiver on loopback (SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK): payloads verify with the
 * official `standardwebhooks` library under the endpoint's secret; a receiver that fails
 * five times and then recovers ends up with every event exactly once (by webhook-id, the
 * same across retries); a test send; a secret rotation whose overlap carries both
 * signatures; an endpoint disabled after 24 h of failures (a fake clock) or at once on 410;
 * and no canary PHI in any payload or header.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Webhook } from "standardwebhooks";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";
import { CANARY, hits } from "../helpers/canary.ts";
import { auditRows } from "../retention/fixtures.ts";
import { type Received, type Receiver, startReceiver } from "./receiver.ts";

const DEV = { SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK: "true" };
const FAST = [30, 30, 30, 30, 30, 30, 30];
const HOUR = 3_600_000;

async function createHook(t: TestApp, url: string, extra: Record<string, unknown> = {}) {
  const res = await t.app.api.inject({
    method: "POST",
    url: "/v1/webhooks",
    headers: auth(t.adminKey),
    payload: { url, ...extra },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; secret: string };
}

async function send(t: TestApp, i: number): Promise<string> {
  const res = await t.app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(t.adminKey),
    payload: {
      from: "clinic@example.com",
      to: `${CANARY.recipient}${i}@example.org`,
      subject: CANARY.subject,
      text: CANARY.text,
      html: CANARY.html,
      metadata: { note: CANARY.metadata },
      sandbox: true,
    },
  });
  assert.equal(res.statusCode, 202, res.body);
  return (res.json() as { id: string }).id;
}

function headersOf(r: Received): Record<string, string> {
  return {
    "webhook-id": String(r.headers["webhook-id"]),
    "webhook-timestamp": String(r.headers["webhook-timestamp"]),
    "webhook-signature": String(r.headers["webhook-signature"]),
  };
}

async function testSend(t: TestApp, id: string) {
  return t.app.api.inject({ method: "POST", url: `/v1/webhooks/${id}/test`, headers: auth(t.adminKey) });
}

function waitFor(r: Receiver, n: number): Promise<Received[]> {
  return eventually(async () => (r.received.length >= n ? r.received : undefined));
}

test("a receiver that fails 5 times then recovers gets every event exactly once, signed, without PHI", async (t) => {
  const receiver = await startReceiver(t);
  receiver.respond((i) => (i < 5 ? 500 : 204));
  const app = await startTestApp(t, { env: DEV, webhookSchedule: FAST });
  const hook = await createHook(app, receiver.url);
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);

  const messageIds: string[] = [];
  for (let i = 0; i < 3; i++) messageIds.push(await send(app, i));

  const events = await eventually(async () => {
    const rows = await app.app.db.kysely
      .selectFrom("events")
      .select(["id", "type"])
      .where("message_id", "in", messageIds)
      .execute();
    // queued, sent and delivered for each message.
    return rows.length === 9 ? rows : undefined;
  });
  await eventually(async () => {
    const pending = await app.app.db.kysely
      .selectFrom("webhook_deliveries")
      .select("id")
      .where("status", "!=", "succeeded")
      .execute();
    const all = await app.app.db.kysely.selectFrom("webhook_deliveries").select("id").execute();
    return all.length === 9 && pending.length === 0 ? true : undefined;
  }, 20_000);

  const ok = receiver.received.filter((r) => r.status === 204);
  const failed = receiver.received.filter((r) => r.status === 500);
  assert.equal(failed.length, 5);
  // Exactly once in the end: one success per webhook-id, one webhook-id per event.
  const byId = new Map<string, Received>();
  for (const r of ok) {
    const id = String(r.headers["webhook-id"]);
    assert.ok(!byId.has(id), "a delivery succeeded twice");
    byId.set(id, r);
  }
  const delivered = [...byId.values()].map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id);
  assert.deepEqual(delivered.sort(), events.map((e) => e.id).sort());
  // A retry carries the webhook-id of the failed attempt.
  for (const f of failed) assert.ok(byId.has(String(f.headers["webhook-id"])));

  const wh = new Webhook(hook.secret);
  for (const r of receiver.received) {
    const payload = wh.verify(r.body, headersOf(r)) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(payload).sort(), ["data", "timestamp", "type"]);
    assert.equal(payload.data.object, "event");
    assert.equal(payload.type, payload.data.type);
    assert.ok(messageIds.includes(String(payload.data.message_id)));
    assert.equal(r.headers["content-type"], "application/json");
    // No PHI: not in the body, not in any header.
    assert.deepEqual(hits(r.body), [], r.body);
    assert.deepEqual(hits(JSON.stringify(r.headers)), []);
    assert.ok(!r.body.includes("example.org"), "an address reached a webhook");
  }

  // The delivery log shows them all, with the attempts made.
  const log = await app.app.api.inject({
    url: `/v1/webhooks/${hook.id}/deliveries?limit=100`,
    headers: auth(app.adminKey),
  });
  assert.equal(log.statusCode, 200, log.body);
  const entries = log.json().data as { status: string; attempts: number; last_status: number }[];
  assert.equal(entries.length, 9);
  assert.ok(entries.every((e) => e.status === "succeeded" && e.last_status === 204));
  assert.equal(
    entries.reduce((n, e) => n + e.attempts, 0),
    14,
  );
});

test("a test send is signed; during a rotation overlap both secrets verify, after overlap_hours 0 only the new one", async (t) => {
  const receiver = await startReceiver(t);
  const app = await startTestApp(t, { env: DEV, webhookSchedule: FAST });
  const hook = await createHook(app, receiver.url, { event_types: ["delivered"] });

  const queued = await testSend(app, hook.id);
  assert.equal(queued.statusCode, 202, queued.body);
  assert.equal(queued.json().event_type, "webhook.test");
  const [first] = await waitFor(receiver, 1);
  assert.ok(first !== undefined);
  const payload = new Webhook(hook.secret).verify(first.body, headersOf(first)) as Record<string, unknown>;
  assert.equal(payload.type, "webhook.test");
  assert.deepEqual(payload.data, {
    object: "webhook_test",
    webhook_id: hook.id,
    delivery_id: queued.json().id,
  });

  const rotated = await app.app.api.inject({
    method: "POST",
    url: `/v1/webhooks/${hook.id}/rotate-secret`,
    headers: auth(app.adminKey),
    payload: { overlap_hours: 24 },
  });
  assert.equal(rotated.statusCode, 200, rotated.body);
  const next = rotated.json() as { secret: string; previous_secret_expires_at: string };
  assert.notEqual(next.secret, hook.secret);
  assert.ok(next.previous_secret_expires_at !== null);
  await testSend(app, hook.id);
  const [, second] = await waitFor(receiver, 2);
  assert.ok(second !== undefined);
  assert.equal(String(second.headers["webhook-signature"]).split(" ").length, 2);
  new Webhook(next.secret).verify(second.body, headersOf(second));
  new Webhook(hook.secret).verify(second.body, headersOf(second));

  const again = await app.app.api.inject({
    method: "POST",
    url: `/v1/webhooks/${hook.id}/rotate-secret`,
    headers: auth(app.adminKey),
    payload: { overlap_hours: 0 },
  });
  const last = (again.json() as { secret: string }).secret;
  await testSend(app, hook.id);
  const [, , third] = await waitFor(receiver, 3);
  assert.ok(third !== undefined);
  assert.equal(String(third.headers["webhook-signature"]).split(" ").length, 1);
  new Webhook(last).verify(third.body, headersOf(third));
  assert.throws(() => new Webhook(next.secret).verify(third.body, headersOf(third)));

  // The secret is shown on create and rotate only.
  const shown = await app.app.api.inject({ url: `/v1/webhooks/${hook.id}`, headers: auth(app.adminKey) });
  assert.equal(shown.json().secret, undefined);
  assert.ok(!shown.body.includes(last.slice(6, 20)));
});

test("an endpoint failing for 24 hours is disabled and audited; a 410 disables at once", async (t) => {
  const receiver = await startReceiver(t);
  receiver.respond(() => 500);
  const clock = new ManualClock(Date.now());
  const app = await startTestApp(t, { env: DEV, clock });
  const hook = await createHook(app, receiver.url);

  assert.equal((await testSend(app, hook.id)).statusCode, 202);
  for (let n = 1; n <= 4; n++) {
    await waitFor(receiver, n);
    // The failure is recorded after the answer; then the next retry is made due.
    await eventually(async () => {
      const row = await app.app.db.kysely
        .selectFrom("webhook_deliveries")
        .select(["attempts", "lease_owner"])
        .executeTakeFirstOrThrow();
      return row.attempts === n && row.lease_owner === null ? true : undefined;
    });
    clock.advance(11 * HOUR);
  }
  const disabled = await eventually(async () => {
    const res = await app.app.api.inject({ url: `/v1/webhooks/${hook.id}`, headers: auth(app.adminKey) });
    const body = res.json() as {
      disabled_at: string | null;
      disabled_reason: string | null;
      enabled: boolean;
    };
    return body.disabled_at === null ? undefined : body;
  });
  assert.equal(disabled.disabled_reason, "failing");
  const entries = await auditRows(app.app, app.app.defaultOrgId, "webhook.disable");
  assert.equal(entries.length, 1);
  assert.equal(entries[0]?.target_id, hook.id);
  // ... and an event in the events API, without a message.
  const events = (
    await app.app.api.inject({ url: "/v1/events?type=webhook_disabled", headers: auth(app.adminKey) })
  ).json() as { data: { message_id: string | null; details: Record<string, unknown> }[] };
  assert.equal(events.data.length, 1);
  assert.equal(events.data[0]?.message_id, null);
  assert.deepEqual(events.data[0]?.details, { webhook_id: hook.id, reason: "failing" });
  // Disabled: a test send is refused until the endpoint is enabled again.
  assert.equal((await testSend(app, hook.id)).statusCode, 409);
  const enable = await app.app.api.inject({
    method: "PUT",
    url: `/v1/webhooks/${hook.id}`,
    headers: auth(app.adminKey),
    payload: { enabled: true },
  });
  assert.equal(enable.json().disabled_at, null);
  assert.equal(enable.json().failing_since, null);

  // 410 Gone: disabled after one attempt.
  receiver.respond(() => 410);
  const before = receiver.received.length;
  const gone = await createHook(app, receiver.url);
  assert.equal((await testSend(app, gone.id)).statusCode, 202);
  await waitFor(receiver, before + 1);
  const g = await eventually(async () => {
    const res = await app.app.api.inject({ url: `/v1/webhooks/${gone.id}`, headers: auth(app.adminKey) });
    const body = res.json() as { disabled_reason: string | null };
    return body.disabled_reason === null ? undefined : body;
  });
  assert.equal(g.disabled_reason, "gone");
});
