/**
 * The webhook outbox (ADR 0011 §3): rows for each active endpoint of the event's org that
 * subscribes to its type; each org's endpoints read once per 5-second TTL (an org without
 * webhooks costs no query after the first), at once again after a local change; and the
 * event writers insert them in the events' transaction (a cancel's too).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KyselyPlugin } from "kysely";
import { ManualClock } from "../../src/core/clock.ts";
import { createOrg } from "../../src/core/orgs.ts";
import type { Db } from "../../src/store/db.ts";
import { systemScope } from "../../src/store/scope.ts";
import { updateWebhook } from "../../src/store/webhooks.ts";
import { WebhookOutbox } from "../../src/webhooks/outbox.ts";
import { auth, startTestApp } from "../helpers/app.ts";

function counting(db: Db): { db: Db; queries: () => number } {
  let n = 0;
  const plugin: KyselyPlugin = {
    transformQuery(args) {
      n++;
      return args.node;
    },
    async transformResult(args) {
      return args.result;
    },
  };
  return { db: { ...db, kysely: db.kysely.withPlugin(plugin) }, queries: () => n };
}

const event = (org: string, type: string, id = `evt_${"0".repeat(26)}`) => ({
  id,
  org_id: org,
  type,
  created_at: 1,
});

test("rows only for subscribed active endpoints; one query per org and TTL; a local change is seen at once", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const manager = await app.key(["webhooks:manage"]);
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const made = await app.app.api.inject({
    method: "POST",
    url: "/v1/webhooks",
    headers: auth(manager),
    payload: { url: "https://93.184.215.14/h", event_types: ["delivered"] },
  });
  const hookId = made.json().id as string;
  const all = await app.app.api.inject({
    method: "POST",
    url: "/v1/webhooks",
    headers: auth(manager),
    payload: { url: "https://93.184.215.14/all" },
  });
  const allId = all.json().id as string;

  let wall = 1_000_000;
  const { db, queries } = counting(app.app.db);
  const outbox = new WebhookOutbox({ db, clock: new ManualClock(5_000), wallNow: () => wall });
  const orgA = app.app.defaultOrgId;

  const rows = await outbox.rowsFor([
    event(orgA, "queued"),
    event(orgA, "delivered"),
    event(orgB.id, "delivered"),
  ]);
  assert.deepEqual(
    rows.map((r) => [r.webhook_id, r.event_type, r.org_id]).sort(),
    [
      [allId, "delivered", orgA],
      [allId, "queued", orgA],
      [hookId, "delivered", orgA],
    ].sort(),
  );
  assert.ok(rows.every((r) => r.status === "pending" && r.due_at === 5_000 && r.attempts === 0));
  assert.ok(rows.every((r) => /^whd_[0-9a-z]{26}$/.test(r.id)));
  assert.equal(new Set(rows.map((r) => r.id)).size, 3);
  assert.equal(queries(), 2);

  // An org without webhooks: no query within the TTL, one after it.
  for (let i = 0; i < 50; i++) assert.deepEqual(await outbox.rowsFor([event(orgB.id, "queued")]), []);
  assert.equal(queries(), 2);
  wall += 5_001;
  await outbox.rowsFor([event(orgB.id, "queued")]);
  assert.equal(queries(), 3);

  // A disabled endpoint gets nothing, once the cache is invalidated (a local change does that).
  assert.equal((await outbox.rowsFor([event(orgA, "queued")])).length, 1);
  await updateWebhook(systemScope(app.app.db, orgA, "admin"), allId, {
    disabled_at: 1,
    disabled_reason: "failing",
  });
  assert.equal((await outbox.rowsFor([event(orgA, "queued")])).length, 1);
  outbox.invalidate(orgA);
  assert.equal((await outbox.rowsFor([event(orgA, "queued")])).length, 0);
});

test("the submit and cancel writers insert the outbox rows of their events in the same transaction", async (t) => {
  const app = await startTestApp(t, { worker: false });
  await app.app.api.inject({
    method: "POST",
    url: "/v1/webhooks",
    headers: auth(app.adminKey),
    payload: { url: "https://93.184.215.14/h", event_types: ["scheduled", "cancelled"] },
  });
  const sent = await app.app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(app.adminKey),
    payload: {
      from: "clinic@example.com",
      to: "p@example.org",
      subject: "Hi",
      text: "Hello",
      send_at: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  assert.equal(sent.statusCode, 202, sent.body);
  const id = sent.json().id as string;
  const cancel = await app.app.api.inject({
    method: "POST",
    url: `/v1/messages/${id}/cancel`,
    headers: auth(app.adminKey),
  });
  assert.equal(cancel.statusCode, 200, cancel.body);
  const events = await app.app.db.kysely
    .selectFrom("events")
    .select(["id", "type"])
    .where("message_id", "=", id)
    .execute();
  const outbox = await app.app.db.kysely
    .selectFrom("webhook_deliveries")
    .select(["event_id", "event_type"])
    .execute();
  assert.deepEqual(outbox.map((o) => o.event_type).sort(), ["cancelled", "scheduled"]);
  const byType = new Map(events.map((e) => [e.type, e.id]));
  for (const o of outbox) assert.equal(o.event_id, byType.get(o.event_type));
});
