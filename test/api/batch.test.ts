/**
 * POST /v1/messages/batch (ADR 0004): up to 500 messages, each validated and accepted on
 * its own, results in request order, all accepted ones in one commit; an Idempotency-Key
 * per batch; whole-request errors are a 4xx problem and store nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { ensureOrg } from "../../src/core/orgs.ts";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY, eventually, startTestApp } from "../helpers/app.ts";

const base = {
  from: "Clinic <clinic@example.com>",
  subject: "Your results are ready",
  text: "Please log in to see them.",
};

interface Item {
  index: number;
  status: number;
  message?: { id: string; status: string; deliveries: { id: string; to: string; status: string }[] };
  error?: { type: string; title: string; status: number; code: string; field?: string; errors?: unknown[] };
}

function batch(app: Sealpost, payload: unknown, headers: Record<string, string> = {}) {
  return app.api.inject({
    method: "POST",
    url: "/v1/messages/batch",
    headers: { ...auth(BOOTSTRAP_KEY), ...headers },
    ...(typeof payload === "string" ? { body: payload } : { payload: payload as object }),
  });
}

async function counts(app: Sealpost): Promise<{ messages: number; deliveries: number; batches: number }> {
  const one = async (table: "messages" | "deliveries" | "batches") =>
    Number(
      (
        await app.db.kysely
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    messages: await one("messages"),
    deliveries: await one("deliveries"),
    batches: await one("batches"),
  };
}

test("a batch of 500 with invalid items: the valid ones are queued, the invalid ones report their problem, in order", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const bad: Record<number, [object, string, string]> = {
    0: [{ ...base, to: "not an address" }, "invalid_address", "to"],
    7: [{ ...base, to: "p7@example.org", subject: undefined }, "missing_field", "subject"],
    123: [{ ...base, to: "p@example.org", colour: "blue" }, "unknown_field", "colour"],
    250: [
      { ...base, to: "p@example.org", subject: "a\r\nBcc: x@evil.example" },
      "header_injection",
      "subject",
    ],
    311: [{ ...base, from: "clinic@unverified.example", to: "p@example.org" }, "domain_not_verified", "from"],
    420: [{ ...base, to: "p@example.org", send_at: "2999-01-01T00:00:00Z" }, "send_at_too_far", "send_at"],
    499: [{ ...base, to: "p@example.org", encryption: "rot13" }, "invalid_value", "encryption"],
  };
  const messages = Array.from(
    { length: 500 },
    (_, i) =>
      bad[i]?.[0] ?? { ...base, to: [`patient${i}@example.org`, `Carer ${i} <carer${i}@example.net>`] },
  );
  const res = await batch(app, { messages });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.object, "batch");
  assert.equal(body.accepted, 493);
  assert.equal(body.rejected, 7);
  const data = body.data as Item[];
  assert.equal(data.length, 500);
  for (const [i, item] of data.entries()) {
    assert.equal(item.index, i);
    const expected = bad[i];
    if (expected === undefined) {
      assert.equal(item.status, 202, `item ${i}`);
      assert.equal(item.error, undefined);
      assert.match(item.message?.id ?? "", /^msg_/);
      assert.equal(item.message?.status, "queued");
      assert.deepEqual(
        item.message?.deliveries.map((d) => [d.to, d.status]),
        [
          [`patient${i}@example.org`, "queued"],
          [`carer${i}@example.net`, "queued"],
        ],
      );
    } else {
      assert.equal(item.status, 422, `item ${i}`);
      assert.equal(item.message, undefined);
      assert.equal(item.error?.code, expected[1], `item ${i}`);
      assert.equal(item.error?.field, expected[2], `item ${i}`);
      assert.equal(item.error?.status, 422);
      assert.equal(item.error?.type, `https://sealpost.dev/problems/${expected[1]}`);
    }
  }
  assert.ok(!res.body.includes("evil.example"), "a problem never echoes a value");
  const ids = data.flatMap((d) => (d.message === undefined ? [] : [d.message.id]));
  assert.deepEqual([...ids].sort(), ids, "accepted in request order");
  assert.deepEqual(await counts(app), { messages: 493, deliveries: 986, batches: 0 });

  // Each stored message is a normal one: readable, listed, cancellable.
  const one = (await app.api.inject({ url: `/v1/messages/${ids[5]}`, headers: auth(BOOTSTRAP_KEY) })).json();
  assert.equal(one.status, "queued");
  assert.deepEqual(
    one.events.map((e: { type: string }) => e.type),
    ["queued", "queued"],
  );
});

test("batch Idempotency-Key: a replay returns the first result and sends nothing twice; another body conflicts", async (t) => {
  const { app, key } = await startTestApp(t);
  const payload = {
    messages: [
      { ...base, to: "a@example.org", sandbox: true },
      { ...base, to: "b@example.org", sandbox: true, colour: "blue" },
      { ...base, to: ["c@example.org", "d@example.org"], sandbox: true },
    ],
  };
  const headers = { "idempotency-key": "nightly-results-2026-11-26" };
  const [a, b] = await Promise.all([batch(app, payload, headers), batch(app, payload, headers)]);
  assert.equal(a.statusCode, 200, a.body);
  assert.equal(b.statusCode, 200, b.body);
  assert.deepEqual(b.json(), a.json(), "two racing requests get one answer");
  const first = a.json();
  assert.equal(first.accepted, 2);
  assert.equal(first.data[1].error.code, "unknown_field");
  assert.deepEqual(await counts(app), { messages: 2, deliveries: 3, batches: 1 });

  // Delivered since; the replay still answers what the first request answered.
  const ids = [first.data[0].message.id, first.data[2].message.id];
  for (const id of ids)
    await eventually(async () => {
      const m = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(BOOTSTRAP_KEY) })).json();
      return m.status === "delivered" ? m : undefined;
    });
  const replay = await batch(app, payload, headers);
  assert.equal(replay.statusCode, 200);
  assert.deepEqual(replay.json(), first);
  assert.deepEqual(await counts(app), { messages: 2, deliveries: 3, batches: 1 });
  const inbox = (await app.api.inject({ url: "/v1/sandbox/messages", headers: auth(BOOTSTRAP_KEY) })).json();
  assert.equal(inbox.data.length, 3, "each recipient got the message once");

  const conflict = await batch(app, { messages: payload.messages.slice(0, 2) }, headers);
  assert.equal(conflict.statusCode, 409);
  assert.equal(conflict.json().code, "idempotency_conflict");

  // Keys are per org, and batch keys do not collide with message keys.
  const other = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const otherKey = await key(["messages:send"], "test", other.id);
  const elsewhere = await app.api.inject({
    method: "POST",
    url: "/v1/messages/batch",
    headers: { ...auth(otherKey), ...headers },
    payload,
  });
  assert.equal(elsewhere.statusCode, 200);
  assert.notEqual(elsewhere.json().data[0].message.id, first.data[0].message.id);
  const single = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: { ...auth(BOOTSTRAP_KEY), ...headers },
    payload: payload.messages[0],
  });
  assert.equal(single.statusCode, 202);
  assert.notEqual(single.json().id, first.data[0].message.id);

  // A batch in which nothing was accepted is not recorded (like a 422 on one message).
  const noneHeaders = { "idempotency-key": "all-bad" };
  const none = await batch(app, { messages: [{ ...base, to: "x" }] }, noneHeaders);
  assert.equal(none.json().accepted, 0);
  const retried = await batch(
    app,
    { messages: [{ ...base, to: "x@example.org", sandbox: true }] },
    noneHeaders,
  );
  assert.equal(retried.json().accepted, 1);
});

test("batch items may be scheduled; each follows its own send_at", async (t) => {
  const clock = new ManualClock(Date.now());
  const { app } = await startTestApp(t, { clock });
  const later = new Date(clock.now() + 3_600_000).toISOString();
  const res = await batch(app, {
    messages: [
      { ...base, to: "now@example.org", sandbox: true },
      { ...base, to: "later@example.org", sandbox: true, send_at: later },
    ],
  });
  assert.equal(res.statusCode, 200, res.body);
  const [now, held] = res.json().data as Item[];
  assert.equal(now?.message?.status, "queued");
  assert.equal(held?.message?.status, "scheduled");
  const get = async (id: string | undefined) =>
    (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(BOOTSTRAP_KEY) })).json();
  await eventually(async () => ((await get(now?.message?.id)).status === "delivered" ? true : undefined));
  assert.equal((await get(held?.message?.id)).status, "scheduled");
  clock.advance(3_600_000 + 1000);
  await eventually(async () => ((await get(held?.message?.id)).status === "delivered" ? true : undefined));
});

test("whole-request errors are a 4xx problem and store nothing", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const ok = { ...base, to: "p@example.org" };
  const cases: [string, unknown, number, string, string | undefined][] = [
    ["not JSON", "{messages: [", 400, "malformed_json", undefined],
    ["a list, not an object", [ok], 422, "invalid_type", undefined],
    ["a string", '"hello"', 422, "invalid_type", undefined],
    ["no messages", {}, 422, "missing_field", "messages"],
    ["messages not a list", { messages: ok }, 422, "invalid_type", "messages"],
    ["empty list", { messages: [] }, 422, "invalid_value", "messages"],
    ["501 messages", { messages: Array.from({ length: 501 }, () => ok) }, 422, "batch_too_large", "messages"],
    ["unknown top-level field", { messages: [ok], from: "x@example.com" }, 422, "unknown_field", "from"],
    ["odd top-level field", { messages: [ok], "Jane Doe 1970": 1 }, 422, "unknown_field", "?"],
  ];
  for (const [name, payload, status, code, field] of cases) {
    const res = await batch(
      app,
      payload,
      typeof payload === "string" ? { "content-type": "application/json" } : {},
    );
    assert.equal(res.statusCode, status, `${name}: ${res.body}`);
    assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json/);
    assert.equal(res.json().code, code, name);
    assert.equal(res.json().field, field, name);
  }
  const text = await app.api.inject({
    method: "POST",
    url: "/v1/messages/batch",
    headers: { ...auth(BOOTSTRAP_KEY), "content-type": "text/plain" },
    body: "hello",
  });
  assert.equal(text.statusCode, 415);
  const badKey = await batch(app, { messages: [ok] }, { "idempotency-key": "has space" });
  assert.equal(badKey.statusCode, 400);
  assert.equal(badKey.json().code, "invalid_idempotency_key");
  // A body nested far deeper than any real one, with a key: the request hash copes with it.
  const deep = await batch(app, `{"messages":[${'{"a":['.repeat(50_000)}${"]}".repeat(50_000)}]}`, {
    "content-type": "application/json",
    "idempotency-key": "deep-1",
  });
  assert.equal(deep.statusCode, 200, deep.body);
  assert.equal(deep.json().data[0].status, 422);
  assert.deepEqual(await counts(app), { messages: 0, deliveries: 0, batches: 0 });
});
