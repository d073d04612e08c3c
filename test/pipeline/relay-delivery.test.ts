import assert from "node:assert/strict";
import { test } from "node:test";
import { simpleParser } from "mailparser";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const message = {
  from: "Clinic <clinic@example.com>",
  to: "patient@example.org",
  subject: "Lab results ready",
  text: "Your results are ready.",
  html: "<p>Your results are <b>ready</b>.</p>",
  attachments: [
    {
      filename: "results.pdf",
      content_type: "application/pdf",
      content: Buffer.from("%PDF-1.7 results").toString("base64"),
    },
  ],
  headers: { "X-Clinic-Ref": "R-1" },
};

test("a live message relayed to a TLS server is delivered, with TLS evidence", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    deliveryCa: (await testCertificate()).cert,
  });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: message,
  });
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().id;
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    return body.status === "delivered" ? body : undefined;
  });
  const evidence = msg.deliveries[0].evidence;
  assert.match(evidence.tls_version, /^TLSv1\.[23]$/);
  assert.equal(typeof evidence.cipher, "string");
  assert.equal(evidence.mx_host, "127.0.0.1");
  assert.equal(evidence.reply_code, 250);
  assert.equal(typeof evidence.cert_verified, "boolean");
  assert.deepEqual(
    msg.events.map((e: { type: string }) => e.type),
    ["queued", "sent", "delivered"],
  );

  assert.equal(sink.messages.length, 1);
  const got = sink.messages[0];
  assert.ok(got?.secure);
  assert.deepEqual(got?.to, ["patient@example.org"]);
  assert.match(
    got?.from ?? "",
    /^b\+dlv_[0-9a-z]{26}-[0-9a-z]{16}@bounce\.example\.com$/,
    "VERP return path",
  );
  const parsed = await simpleParser(got?.raw ?? Buffer.alloc(0));
  assert.equal(parsed.subject, "Lab results ready");
  assert.equal(parsed.text?.trim(), "Your results are ready.");
  assert.equal(parsed.attachments[0]?.content.toString(), "%PDF-1.7 results");
  assert.equal(parsed.headers.get("x-clinic-ref"), "R-1");
  assert.equal(parsed.messageId, `<${id}@example.com>`);
});

for (const variant of [
  { name: "without STARTTLS", opts: { starttls: false } },
  {
    name: "offering only TLS 1.0/1.1",
    opts: { tls: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" } },
  },
]) {
  test(`a server ${variant.name} never gets DATA: deferred, then failed tls_unavailable`, async (t) => {
    const sink = await startSmtpSink(variant.opts);
    t.after(() => sink.close());
    const clock = new ManualClock(Date.now());
    const { app, adminKey } = await startTestApp(t, {
      clock,
      env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    });
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      // TLS only: with `auto` a server without TLS gets a portal notice (ADR 0010 §4).
      payload: { ...message, encryption: "tls" },
    });
    const id = res.json().id;
    const get = async () =>
      (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    const deferred = await eventually(async () => {
      const body = await get();
      return body.status === "deferred" ? body : undefined;
    });
    assert.equal(deferred.deliveries[0].reason, "tls_unavailable");
    assert.ok(deferred.deliveries[0].next_attempt_at);
    // Past the 72-hour retry window: the next attempt gives up.
    clock.advance(73 * 3_600_000);
    const failed = await eventually(async () => {
      const body = await get();
      return body.status === "failed" ? body : undefined;
    });
    assert.equal(failed.deliveries[0].reason, "tls_unavailable");
    assert.equal(failed.deliveries[0].evidence.gave_up, true);
    assert.deepEqual(
      failed.events.map((e: { type: string }) => e.type),
      ["queued", "deferred", "failed"],
    );
    assert.equal(sink.dataCount(), 0, "no DATA ever reached the server");
    assert.equal(sink.plaintextDataCount(), 0);
    assert.equal(sink.messages.length, 0);
  });
}

test("a 5xx from the server fails the delivery at once; a 4xx defers it", async (t) => {
  const sink = await startSmtpSink({
    rejectRcpt: (a) => (a.startsWith("gone") ? 550 : a.startsWith("busy") ? 451 : null),
  });
  t.after(() => sink.close());
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { ...message, to: ["gone@example.org", "busy@example.org", "ok@example.org"] },
  });
  const id = res.json().id;
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    return body.deliveries.every((d: { status: string }) => d.status !== "queued" && d.status !== "sending")
      ? body
      : undefined;
  });
  const byTo = Object.fromEntries(msg.deliveries.map((d: { to: string }) => [d.to, d]));
  assert.equal(byTo["gone@example.org"].status, "bounced");
  assert.equal(byTo["gone@example.org"].reason, "rejected_permanent");
  assert.equal(byTo["gone@example.org"].evidence.reply_code, 550);
  assert.ok(!JSON.stringify(msg.events).includes("gone@example.org"), "reply text is sanitized");
  assert.equal(byTo["busy@example.org"].status, "deferred");
  assert.equal(byTo["ok@example.org"].status, "delivered");
  assert.equal(msg.status, "deferred");
});

test("the transport map sends one domain to its own next hop; others still go direct", async (t) => {
  const mapped = await startSmtpSink();
  t.after(() => mapped.close());
  const { app, adminKey } = await startTestApp(t, {
    env: {
      SEALPOST_TRANSPORT_MAP: `lab.example=smtp://127.0.0.1:${mapped.port}`,
      SEALPOST_DNS_SERVERS: "127.0.0.1:9",
    },
  });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { ...message, to: ["results@lab.example", "pat@elsewhere.example"] },
  });
  const id = res.json().id;
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    return body.deliveries.every((d: { status: string }) => d.status !== "queued" && d.status !== "sending")
      ? body
      : undefined;
  });
  assert.equal(msg.deliveries[0].status, "delivered");
  assert.deepEqual(mapped.messages[0]?.to, ["results@lab.example"]);
  assert.equal(msg.deliveries[1].status, "deferred", "no DNS answers for the other domain");
  assert.equal(msg.deliveries[1].reason, "dns_failed");
});
