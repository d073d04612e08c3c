import assert from "node:assert/strict";
import { test } from "node:test";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const base = { from: "clinic@example.com", subject: "Reminder", text: "Hello" };

test("a hard bounce suppresses the address; the next send is suppressed with no attempt", async (t) => {
  const sink = await startSmtpSink({ rejectRcpt: (a) => (a.toLowerCase().startsWith("gone") ? 550 : null) });
  t.after(() => sink.close());
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });
  const send = async (to: string) => {
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: { ...base, to },
    });
    assert.equal(res.statusCode, 202, res.body);
    return res.json();
  };
  const first = await send("Gone@Example.org");
  const bounced = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${first.id}`, headers: auth(adminKey) })).json();
    return body.status === "bounced" ? body : undefined;
  });
  assert.equal(bounced.deliveries[0].reason, "rejected_permanent");
  assert.equal(bounced.deliveries[0].evidence.enhanced_code, "5.1.1");
  assert.deepEqual(
    bounced.events.map((e: { type: string }) => e.type),
    ["queued", "bounced"],
  );

  const list = (await app.api.inject({ url: "/v1/suppressions", headers: auth(adminKey) })).json();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].address, "gone@example.org");
  assert.equal(list.data[0].reason, "hard_bounce");
  assert.equal(list.data[0].delivery_id, first.deliveries[0].id);

  const attemptsBefore = sink.dataCount();
  const second = await send("gone@example.org");
  assert.equal(second.deliveries[0].status, "suppressed");
  const msg = (await app.api.inject({ url: `/v1/messages/${second.id}`, headers: auth(adminKey) })).json();
  assert.equal(msg.status, "suppressed");
  assert.deepEqual(
    msg.events.map((e: { type: string }) => e.type),
    ["queued", "suppressed"],
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sink.dataCount(), attemptsBefore, "no delivery attempt");

  const del = await app.api.inject({
    method: "DELETE",
    url: "/v1/suppressions/gone%40example.org",
    headers: auth(adminKey),
  });
  assert.equal(del.statusCode, 204);
  const third = await send("gone@example.org");
  assert.equal(third.deliveries[0].status, "queued");
});

test("manual suppressions, idempotent adds and bad input", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });
  const add = (payload: unknown) =>
    app.api.inject({
      method: "POST",
      url: "/v1/suppressions",
      headers: auth(adminKey),
      payload: payload as object,
    });
  const created = await add({ address: "Optout@Example.org", reason: "unsubscribe" });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.json().address, "optout@example.org");
  assert.equal((await add({ address: "optout@example.org" })).statusCode, 200, "idempotent");
  for (const [payload, code] of [
    [{ address: "nope" }, "invalid_address"],
    [{}, "missing_field"],
    [{ address: "a@example.org", reason: "because" }, "invalid_value"],
    [{ address: "a@example.org", colour: 1 }, "unknown_field"],
  ] as const) {
    const res = await add(payload);
    assert.equal(res.json().code, code, JSON.stringify(payload));
  }
  const del = await app.api.inject({
    method: "DELETE",
    url: "/v1/suppressions/never%40example.org",
    headers: auth(adminKey),
  });
  assert.equal(del.statusCode, 404);
  const sent = (
    await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: { ...base, to: ["optout@example.org", "ok@example.org"] },
    })
  ).json();
  assert.deepEqual(
    sent.deliveries.map((d: { status: string }) => d.status),
    ["suppressed", "queued"],
  );
});
