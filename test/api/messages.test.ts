import assert from "node:assert/strict";
import { test } from "node:test";
import { auth, eventually, startTestApp } from "../helpers/app.ts";

const base = {
  from: "Clinic <clinic@example.com>",
  to: ["patient@example.org"],
  subject: "Your appointment",
  text: "See you on Tuesday.",
};

test("a sandbox message runs the pipeline and lands in the sandbox inbox", async (t) => {
  const { app, adminKey } = await startTestApp(t);
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: {
      ...base,
      cc: "Nurse <nurse@example.org>",
      html: "<p>See you on <b>Tuesday</b>.</p>",
      attachments: [
        {
          filename: "prep.pdf",
          content_type: "application/pdf",
          content: Buffer.from("%PDF-1.4 x").toString("base64"),
        },
      ],
      headers: { "X-Clinic-Ref": "A1" },
      tags: ["reminder"],
      sandbox: true,
    },
  });
  assert.equal(res.statusCode, 202, res.body);
  const sent = res.json();
  assert.match(sent.id, /^msg_/);
  assert.equal(sent.deliveries.length, 2);
  assert.deepEqual(
    sent.deliveries.map((d: { to: string; kind: string }) => [d.to, d.kind]),
    [
      ["patient@example.org", "to"],
      ["nurse@example.org", "cc"],
    ],
  );

  const msg = await eventually(async () => {
    const r = await app.api.inject({ url: `/v1/messages/${sent.id}`, headers: auth(adminKey) });
    const body = r.json();
    return body.status === "delivered" ? body : undefined;
  });
  assert.equal(msg.mode, "test");
  assert.deepEqual(msg.tags, ["reminder"]);
  assert.equal(msg.deliveries[0].evidence.sandbox, true);
  assert.deepEqual(
    msg.events
      .filter((e: { delivery_id: string }) => e.delivery_id === sent.deliveries[0].id)
      .map((e: { type: string }) => e.type),
    ["queued", "sent", "delivered"],
  );
  assert.equal(msg.content, undefined, "content only when asked for");

  const inbox = await app.api.inject({ url: "/v1/sandbox/messages", headers: auth(adminKey) });
  assert.equal(inbox.statusCode, 200);
  assert.equal(inbox.json().data.length, 2);
  const one = await app.api.inject({
    url: `/v1/sandbox/messages/${sent.deliveries[0].id}`,
    headers: auth(adminKey),
  });
  const captured = one.json();
  assert.equal(captured.subject, "Your appointment");
  assert.equal(captured.envelope_to, "patient@example.org");
  assert.equal(captured.text.trim(), "See you on Tuesday.");
  assert.equal(captured.attachments[0].filename, "prep.pdf");
  assert.equal(captured.headers["x-clinic-ref"], "A1");
  const raw = Buffer.from(captured.raw, "base64").toString();
  assert.match(raw, new RegExp(`Message-ID: <${sent.id}@example.com>`));
  assert.doesNotMatch(raw, /^Bcc:/im);

  const withContent = await app.api.inject({
    url: `/v1/messages/${sent.id}?include=content`,
    headers: auth(adminKey),
  });
  assert.equal(withContent.json().content.subject, "Your appointment");
});

test("a test-mode key always captures in the sandbox", async (t) => {
  const { app, key } = await startTestApp(t);
  const testKey = await key(["messages:send", "messages:read", "messages:read_content"], "test");
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(testKey),
    payload: base,
  });
  assert.equal(res.statusCode, 202);
  const id = res.json().id;
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(testKey) })).json();
    return body.status === "delivered" ? body : undefined;
  });
  assert.equal(msg.mode, "test");
});

test("listing filters by status, recipient, tag and time, with a cursor", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: { ...base, to: `p${i}@example.org`, tags: [i % 2 === 0 ? "even" : "odd"], sandbox: true },
    });
    ids.push(r.json().id);
  }
  const page1 = (await app.api.inject({ url: "/v1/messages?limit=2", headers: auth(adminKey) })).json();
  assert.deepEqual(
    page1.data.map((m: { id: string }) => m.id),
    [ids[4], ids[3]],
  );
  const page2 = (
    await app.api.inject({ url: `/v1/messages?limit=2&cursor=${page1.next_cursor}`, headers: auth(adminKey) })
  ).json();
  assert.deepEqual(
    page2.data.map((m: { id: string }) => m.id),
    [ids[2], ids[1]],
  );
  const byRcpt = (
    await app.api.inject({ url: "/v1/messages?recipient=P3@Example.org", headers: auth(adminKey) })
  ).json();
  assert.deepEqual(
    byRcpt.data.map((m: { id: string }) => m.id),
    [ids[3]],
  );
  const byTag = (await app.api.inject({ url: "/v1/messages?tag=even", headers: auth(adminKey) })).json();
  assert.equal(byTag.data.length, 3);
  const queued = (
    await app.api.inject({ url: "/v1/messages?status=queued", headers: auth(adminKey) })
  ).json();
  assert.equal(queued.data.length, 5);
  const future = (
    await app.api.inject({ url: "/v1/messages?from=2999-01-01T00:00:00Z", headers: auth(adminKey) })
  ).json();
  assert.equal(future.data.length, 0);
});

test("cancel stops deliveries that have not gone out", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const sent = (
    await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: { ...base, sandbox: true },
    })
  ).json();
  const res = await app.api.inject({
    method: "POST",
    url: `/v1/messages/${sent.id}/cancel`,
    headers: auth(adminKey),
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().status, "cancelled");
  const again = await app.api.inject({
    method: "POST",
    url: `/v1/messages/${sent.id}/cancel`,
    headers: auth(adminKey),
  });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().code, "invalid_state");
  app.startWorker();
  await new Promise((r) => setTimeout(r, 100));
  const after = (await app.api.inject({ url: `/v1/messages/${sent.id}`, headers: auth(adminKey) })).json();
  assert.equal(after.status, "cancelled");
  assert.deepEqual(
    after.events.map((e: { type: string }) => e.type),
    ["queued", "cancelled"],
  );
});

test("Idempotency-Key: same body gives the same message once; another body is a conflict", async (t) => {
  const { app, adminKey } = await startTestApp(t);
  const headers = { ...auth(adminKey), "idempotency-key": "order-123" };
  const payload = { ...base, sandbox: true };
  const [a, b] = await Promise.all([
    app.api.inject({ method: "POST", url: "/v1/messages", headers, payload }),
    app.api.inject({ method: "POST", url: "/v1/messages", headers, payload }),
  ]);
  assert.equal(a.statusCode, 202);
  assert.equal(b.statusCode, 202);
  assert.equal(a.json().id, b.json().id);
  const c = await app.api.inject({ method: "POST", url: "/v1/messages", headers, payload });
  assert.equal(c.json().id, a.json().id);
  assert.deepEqual(c.json().deliveries, a.json().deliveries);
  const list = (await app.api.inject({ url: "/v1/messages", headers: auth(adminKey) })).json();
  assert.equal(list.data.length, 1, "one message stored");
  const conflict = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers,
    payload: { ...payload, subject: "Another subject" },
  });
  assert.equal(conflict.statusCode, 409);
  assert.equal(conflict.json().code, "idempotency_conflict");
});

test("health, readiness, metrics and the OpenAPI document", async (t) => {
  const { app } = await startTestApp(t);
  assert.equal((await app.api.inject({ url: "/healthz" })).statusCode, 200);
  assert.equal((await app.api.inject({ url: "/readyz" })).json().status, "ready");
  const metrics = await app.api.inject({ url: "/metrics" });
  assert.match(metrics.body, /sealpost_queue_deliveries\{state="due"\}/);
  const doc = (await app.api.inject({ url: "/openapi.json" })).json();
  assert.equal(doc.openapi, "3.1.0");
  assert.ok(doc.paths["/v1/messages"].post);
  assert.ok(doc.paths["/v1/messages/{id}"].get);
  assert.ok(doc.paths["/v1/sandbox/messages"].get);
  const docs = await app.api.inject({ url: "/docs/" });
  assert.equal(docs.statusCode, 200);
});

test("internationalised addresses (UTF-8 local part, IDN domain) are accepted and delivered", async (t) => {
  const { app, adminKey } = await startTestApp(t);
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { ...base, to: ["josé@bücher.example", "用户@例子.example"], sandbox: true },
  });
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().id;
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    return body.status === "delivered" ? body : undefined;
  });
  assert.deepEqual(
    msg.deliveries.map((d: { to: string }) => d.to),
    ["josé@bücher.example", "用户@例子.example"],
  );
  const byRcpt = (
    await app.api.inject({
      url: `/v1/messages?recipient=${encodeURIComponent("JOSÉ@xn--bcher-kva.example")}`,
      headers: auth(adminKey),
    })
  ).json();
  assert.equal(byRcpt.data.length, 1, "blind index matches case-insensitively across IDN forms");
});
