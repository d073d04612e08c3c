/**
 * Test-mode keys never deliver and never read live mail (ADR 0008 §1, §7):
 * - a test key sends over REST, batch, Paubox and SMTP; a real sink set as the relay sees
 *   no connection, and every message is in the sandbox;
 * - a test key reads only test-mode messages: a live message answers 404, as another org's;
 * - the SMTP deliverer itself refuses a test-mode message, whatever routed it there.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import nodemailer from "nodemailer";
import { loadConfig } from "../../src/config/load.ts";
import { createSmtpDeliverer } from "../../src/delivery/deliverer.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { createDnsResolver } from "../../src/main.ts";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { sdkMessage, tokenAuth } from "../helpers/paubox-sdk.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const message = (subject: string) => ({
  from: "Clinic <clinic@example.com>",
  to: "pat@example.org",
  subject,
  text: "Your results are ready.",
});

const TEST_SCOPES = ["messages:send", "messages:read", "messages:read_content"] as const;

test("a test key's mail over REST, batch, Paubox and SMTP goes to the sandbox, never to the relay", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey, key } = await startTestApp(t, {
    env: {
      SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`,
      SEALPOST_SMTP_PORT: "0",
      SEALPOST_SMTPS_PORT: "0",
    },
    deliveryCa: (await testCertificate()).cert,
  });
  const testKey = await key([...TEST_SCOPES], "test");
  const post = (url: string, payload: object, headers = auth(testKey)) =>
    app.api.inject({ method: "POST", url, headers, payload });

  const ids: string[] = [];
  const rest = await post("/v1/messages", message("rest"));
  assert.equal(rest.statusCode, 202, rest.body);
  ids.push(rest.json().id);
  const batch = await post("/v1/messages/batch", { messages: [message("batch 1"), message("batch 2")] });
  assert.equal(batch.statusCode, 200, batch.body);
  ids.push(...batch.json().data.map((d: { message: { id: string } }) => d.message.id));
  const paubox = await post(
    "/paubox/v1/messages",
    {
      data: {
        message: sdkMessage({
          from: "clinic@example.com",
          to: ["pat@example.org"],
          subject: "paubox",
          text_content: "Hello",
        }),
      },
    },
    tokenAuth(testKey),
  );
  assert.equal(paubox.statusCode, 200, paubox.body);
  ids.push(paubox.json().sourceTrackingId);
  const ports = await app.listenSmtp();
  const info = await nodemailer
    .createTransport({
      host: "127.0.0.1",
      port: ports.smtp,
      requireTLS: true,
      auth: { user: "api", pass: testKey },
      tls: { rejectUnauthorized: false },
    })
    .sendMail({ from: "clinic@example.com", to: "pat@example.org", subject: "smtp", text: "Hello" });
  const smtpId = /queued as (msg_[0-9a-z]{26})/.exec(info.response)?.[1];
  assert.ok(smtpId, info.response);
  ids.push(smtpId);

  for (const id of ids) {
    const msg = await eventually(async () => {
      const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(testKey) })).json();
      return body.status === "delivered" ? body : undefined;
    });
    assert.equal(msg.mode, "test");
    assert.equal(msg.deliveries[0].evidence.sandbox, true);
  }
  const inbox = (await app.api.inject({ url: "/v1/sandbox/messages", headers: auth(testKey) })).json();
  assert.deepEqual(
    inbox.data.map((m: { message_id: string }) => m.message_id).sort(),
    [...ids].sort(),
    "every message is in the sandbox",
  );
  // The admin (live) key sees the same sandbox; the relay never saw a connection.
  const adminInbox = (await app.api.inject({ url: "/v1/sandbox/messages", headers: auth(adminKey) })).json();
  assert.equal(adminInbox.data.length, ids.length);
  assert.equal(sink.connections(), 0);
  assert.equal(sink.messages.length, 0);
});

test("a test key never reads a live message: 404 on read, cancel and receipt, absent from lists", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const testKey = await key([...TEST_SCOPES], "test");
  const live = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { ...message("live"), send_at: new Date(app.clock.now() + 3_600_000).toISOString() },
  });
  assert.equal(live.statusCode, 202, live.body);
  const liveId = live.json().id;
  const mine = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(testKey),
    payload: message("test"),
  });
  assert.equal(mine.statusCode, 202, mine.body);
  const testId = mine.json().id;

  const get = (url: string, token: string) => app.api.inject({ url, headers: auth(token) });
  for (const url of [`/v1/messages/${liveId}`, `/v1/messages/${liveId}?include=content`]) {
    const res = await get(url, testKey);
    assert.equal(res.statusCode, 404, url);
    assert.equal(res.json().code, "not_found");
  }
  const cancel = await app.api.inject({
    method: "POST",
    url: `/v1/messages/${liveId}/cancel`,
    headers: auth(testKey),
  });
  assert.equal(cancel.statusCode, 404);
  const receipt = await app.api.inject({
    url: `/paubox/v1/message_receipt?sourceTrackingId=${liveId}`,
    headers: tokenAuth(testKey),
  });
  assert.equal(receipt.statusCode, 404);

  const listed = (await get("/v1/messages", testKey)).json();
  assert.deepEqual(
    listed.data.map((m: { id: string }) => m.id),
    [testId],
  );
  const byStatus = (await get("/v1/messages?status=scheduled", testKey)).json();
  assert.deepEqual(byStatus.data, [], "the live message is scheduled, and still not listed");

  // Its own message reads as before, and a live key reads both.
  assert.equal((await get(`/v1/messages/${testId}`, testKey)).statusCode, 200);
  const all = (await get("/v1/messages", adminKey)).json();
  assert.deepEqual(all.data.map((m: { id: string }) => m.id).sort(), [liveId, testId].sort());
  // The live message was not cancelled by the refused request.
  const after = (await get(`/v1/messages/${liveId}`, adminKey)).json();
  assert.equal(after.status, "scheduled");
});

test("the same Idempotency-Key on a test key and a live key makes two messages, never a replay", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const testKey = await key([...TEST_SCOPES], "test");
  const send = (token: string) =>
    app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: { ...auth(token), "idempotency-key": "order-42" },
      payload: message("same key"),
    });
  const live = await send(adminKey);
  const test1 = await send(testKey);
  const test2 = await send(testKey);
  assert.equal(live.statusCode, 202, live.body);
  assert.equal(test1.statusCode, 202, test1.body);
  assert.notEqual(test1.json().id, live.json().id);
  assert.equal(test2.json().id, test1.json().id, "the test key's own retry replays");
  const batch = (token: string) =>
    app.api.inject({
      method: "POST",
      url: "/v1/messages/batch",
      headers: { ...auth(token), "idempotency-key": "batch-7" },
      payload: { messages: [message("b")] },
    });
  const liveBatch = await batch(adminKey);
  const testBatch = await batch(testKey);
  assert.equal(testBatch.statusCode, 200, testBatch.body);
  assert.notEqual(testBatch.json().data[0].message.id, liveBatch.json().data[0].message.id);
});

test("the SMTP deliverer refuses a test-mode message and opens no connection", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app } = await startTestApp(t, { worker: false });
  const config = loadConfig({
    SEALPOST_DATA_DIR: app.config.dataDir,
    SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`,
  });
  const deliverer = createSmtpDeliverer({
    config,
    logger: silentLogger(),
    resolver: createDnsResolver(config),
    db: app.db,
    clock: app.clock,
    ca: (await testCertificate()).cert,
  });
  t.after(() => deliverer.close());
  const req = {
    domain: "example.org",
    from: "b@bounce.example.com",
    to: "pat@example.org",
    raw: Buffer.from("Subject: x\r\n\r\nbody\r\n"),
  };
  // Failed for good with its reason (not retried), and nothing sent.
  const refused = await deliverer.deliver({ ...req, mode: "test" });
  assert.equal(refused.outcome.kind, "hard_fail");
  assert.equal(refused.outcome.kind === "hard_fail" && refused.outcome.reason, "test_mode_message");
  assert.equal(sink.connections(), 0);
  // The same request in live mode does go out: the refusal is the mode's, not the relay's.
  const sent = await deliverer.deliver({ ...req, mode: "live" });
  assert.equal(sent.outcome.kind, "sent");
  assert.equal(sink.connections(), 1);
});
