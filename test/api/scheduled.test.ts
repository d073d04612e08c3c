/**
 * Scheduled sending (`send_at`, ADR 0004) end to end on a fake clock: a held message is not
 * delivered before its time and is delivered after; it survives a restart of the node;
 * cancel stops it; bad values get coded errors. The worker polls with real timers, so
 * "nothing happened" is checked after giving it time to (wrongly) act.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { createSealpost, type Sealpost } from "../../src/main.ts";
import {
  auth,
  BOOTSTRAP_KEY,
  eventually,
  startTestApp,
  testNode,
  verifyDomainsForTest,
} from "../helpers/app.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const base = {
  from: "Clinic <clinic@example.com>",
  to: "patient@example.org",
  subject: "Appointment reminder",
  text: "Your appointment is tomorrow.",
};

interface MessageBody {
  status: string;
  send_at: string | null;
  deliveries: { status: string; attempts: number; next_attempt_at: string | null }[];
  events: { type: string; details: Record<string, unknown> }[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Gives the worker (polling every 20 ms) time to act, wrongly or not. */
function settle(ms = 300): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function send(app: Sealpost, payload: object, headers: Record<string, string> = {}) {
  return app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: { ...auth(BOOTSTRAP_KEY), ...headers },
    payload,
  });
}

async function get(app: Sealpost, id: string): Promise<MessageBody> {
  return (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(BOOTSTRAP_KEY) })).json();
}

function untilStatus(app: Sealpost, id: string, status: string): Promise<MessageBody> {
  return eventually(async () => {
    const m = await get(app, id);
    return m.status === status ? m : undefined;
  });
}

test("send_at in the future: held (not delivered) until then, delivered after, dated at send time", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const clock = new ManualClock(Date.now());
  const { app } = await startTestApp(t, { clock, env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` } });
  const sendAt = Math.floor((clock.now() + 2 * HOUR) / 1000) * 1000;

  const res = await send(app, { ...base, send_at: iso(sendAt) });
  assert.equal(res.statusCode, 202, res.body);
  const accepted = res.json();
  assert.equal(accepted.status, "scheduled");
  assert.equal(accepted.send_at, iso(sendAt));
  assert.equal(accepted.deliveries[0].status, "scheduled");

  await settle();
  const held = await get(app, accepted.id);
  assert.equal(held.status, "scheduled");
  assert.equal(held.send_at, iso(sendAt));
  assert.equal(held.deliveries[0]?.status, "scheduled");
  assert.equal(held.deliveries[0]?.attempts, 0);
  assert.equal(held.deliveries[0]?.next_attempt_at, iso(sendAt));
  assert.deepEqual(
    held.events.map((e) => [e.type, e.details]),
    [["scheduled", { send_at: iso(sendAt) }]],
  );
  const metrics = (await app.api.inject({ url: "/metrics" })).body;
  assert.match(metrics, /sealpost_queue_deliveries\{state="due"\} 0/);
  assert.match(metrics, /sealpost_queue_deliveries\{state="scheduled"\} 1/);
  const listed = (
    await app.api.inject({ url: "/v1/messages?status=scheduled", headers: auth(BOOTSTRAP_KEY) })
  ).json();
  assert.deepEqual(
    listed.data.map((m: { id: string }) => m.id),
    [accepted.id],
  );

  clock.set(sendAt - 1000);
  await settle();
  assert.equal((await get(app, accepted.id)).status, "scheduled", "one second early: still held");
  assert.equal(sink.dataCount(), 0, "nothing reached the receiving server before send_at");

  clock.set(sendAt + 1000);
  const delivered = await untilStatus(app, accepted.id, "delivered");
  assert.deepEqual(
    delivered.events.map((e) => e.type),
    ["scheduled", "sent", "delivered"],
  );
  assert.equal(sink.messages.length, 1);
  assert.equal(sink.messages[0]?.secure, true);
  const raw = sink.messages[0]?.raw.toString("utf8") ?? "";
  const date = /^Date: (.+)$/m.exec(raw)?.[1];
  assert.equal(Date.parse(date ?? ""), sendAt, "the Date header is the send time");
  assert.equal(sink.plaintextDataCount(), 0);
});

/** A node on a given data dir and database, as `sealpost start` would build it. */
async function startNode(env: Record<string, string>, clock: ManualClock): Promise<Sealpost> {
  const app = await createSealpost(loadConfig(env), { logger: silentLogger(), clock, pollMs: 20 });
  app.startWorker();
  return app;
}

test("a scheduled message survives a restart and goes out at its time", async (t: TestContext) => {
  const node = await testNode();
  t.after(() => node.remove());
  const { env } = node;
  const start = Date.now();
  const first = await startNode(env, new ManualClock(start));
  let id: string;
  try {
    await verifyDomainsForTest(first, ["example.com"]);
    const res = await send(first, { ...base, sandbox: true, send_at: iso(start + DAY) });
    assert.equal(res.statusCode, 202, res.body);
    id = res.json().id;
    await settle();
    assert.equal((await get(first, id)).status, "scheduled");
  } finally {
    await first.close();
  }

  // A new process on the same data: nothing in memory carried the schedule over.
  const clock = new ManualClock(start + HOUR);
  const second = await startNode(env, clock);
  try {
    await settle();
    assert.equal((await get(second, id)).status, "scheduled", "still held after the restart");
    clock.set(start + DAY + 1000);
    const delivered = await untilStatus(second, id, "delivered");
    assert.deepEqual(
      delivered.events.map((e) => e.type),
      ["scheduled", "sent", "delivered"],
    );
    const inbox = (
      await second.api.inject({ url: "/v1/sandbox/messages", headers: auth(BOOTSTRAP_KEY) })
    ).json();
    assert.equal(inbox.data.length, 1);
  } finally {
    await second.close();
  }
});

test("cancel before send_at stops a scheduled message for good", async (t) => {
  const clock = new ManualClock(Date.now());
  const { app } = await startTestApp(t, { clock });
  const sendAt = clock.now() + 3 * HOUR;
  const sent = (
    await send(app, { ...base, cc: "nurse@example.org", sandbox: true, send_at: iso(sendAt) })
  ).json();
  assert.equal(sent.status, "scheduled");

  clock.advance(HOUR);
  const res = await app.api.inject({
    method: "POST",
    url: `/v1/messages/${sent.id}/cancel`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().status, "cancelled");
  assert.equal(res.json().cancelled.length, 2);

  clock.set(sendAt + HOUR);
  await settle();
  const after = await get(app, sent.id);
  assert.equal(after.status, "cancelled");
  assert.deepEqual(
    after.deliveries.map((d) => [d.status, d.attempts]),
    [
      ["cancelled", 0],
      ["cancelled", 0],
    ],
  );
  assert.deepEqual(
    after.events.map((e) => e.type),
    ["scheduled", "scheduled", "cancelled", "cancelled"],
  );
  const inbox = (await app.api.inject({ url: "/v1/sandbox/messages", headers: auth(BOOTSTRAP_KEY) })).json();
  assert.equal(inbox.data.length, 0, "never delivered");
  const metrics = (await app.api.inject({ url: "/metrics" })).body;
  assert.match(metrics, /sealpost_queue_deliveries\{state="scheduled"\} 0/);
});

test("send_at values: coded errors for past, too far, garbage; skew and offsets", async (t) => {
  const now = Date.UTC(2026, 5, 15, 12, 0, 0);
  const clock = new ManualClock(now);
  const { app } = await startTestApp(t, { clock, worker: false });
  const cases: [unknown, number, string][] = [
    [iso(now - 61_000), 422, "send_at_in_past"],
    ["2020-01-01T00:00:00Z", 422, "send_at_in_past"],
    [iso(now + 30 * DAY + 1000), 422, "send_at_too_far"],
    ["2999-01-01T00:00:00Z", 422, "send_at_too_far"],
    ["tomorrow", 422, "invalid_value"],
    ["2026-06-16", 422, "invalid_value"],
    ["2026-06-16T09:00:00", 422, "invalid_value"],
    ["2026-02-30T09:00:00Z", 422, "invalid_value"],
    ["2026-06-16T25:00:00Z", 422, "invalid_value"],
    ["2026-06-16T09:00:00+25:00", 422, "invalid_value"],
    ["Tue, 16 Jun 2026 09:00:00 GMT", 422, "invalid_value"],
    [`${iso(now + DAY)}\r\nBcc: x@evil.example`, 422, "invalid_value"],
    [1781600000000, 422, "invalid_type"],
    [{ at: "x" }, 422, "invalid_type"],
  ];
  for (const [value, status, code] of cases) {
    const res = await send(app, { ...base, send_at: value });
    assert.equal(res.statusCode, status, `${JSON.stringify(value)}: ${res.body}`);
    const body = res.json();
    assert.equal(body.code, code, JSON.stringify(value));
    assert.equal(body.field, "send_at");
    assert.ok(!res.body.includes("evil.example"), "the value is never echoed");
  }
  const list = (await app.api.inject({ url: "/v1/messages", headers: auth(BOOTSTRAP_KEY) })).json();
  assert.equal(list.data.length, 0, "nothing stored for a refused send_at");

  // Up to 60 s in the past is clock skew: sent at once. null means "now" too.
  for (const value of [iso(now - 30_000), iso(now), null]) {
    const res = await send(app, { ...base, send_at: value });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().status, "queued");
    assert.equal(res.json().send_at, null);
    assert.equal(res.json().deliveries[0].status, "queued");
  }
  // An offset is honoured; the answer is in UTC. Exactly 30 days ahead is allowed.
  for (const [value, expected] of [
    ["2026-06-16T09:30:00.250+05:30", "2026-06-16T04:00:00.250Z"],
    ["2026-06-16t04:00:00z", "2026-06-16T04:00:00.000Z"],
    [iso(now + 30 * DAY), iso(now + 30 * DAY)],
  ] as const) {
    const res = await send(app, { ...base, send_at: value });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().status, "scheduled");
    assert.equal(res.json().send_at, expected);
  }
});

test("an idempotent retry of a scheduled message answers scheduled, even after it went out", async (t) => {
  const clock = new ManualClock(Date.now());
  const { app } = await startTestApp(t, { clock });
  const payload = { ...base, sandbox: true, send_at: iso(clock.now() + HOUR) };
  const headers = { "idempotency-key": "reminder-42" };
  const first = await send(app, payload, headers);
  assert.equal(first.statusCode, 202, first.body);
  assert.equal(first.json().status, "scheduled");
  clock.advance(2 * HOUR);
  await untilStatus(app, first.json().id, "delivered");
  // The send_at is now in the past, but a replay answers before validating the time.
  const again = await send(app, payload, headers);
  assert.equal(again.statusCode, 202, again.body);
  assert.deepEqual(again.json(), first.json());
  const list = (await app.api.inject({ url: "/v1/messages", headers: auth(BOOTSTRAP_KEY) })).json();
  assert.equal(list.data.length, 1);
});
