import assert from "node:assert/strict";
import { test } from "node:test";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { startDnsServer } from "../helpers/dns-server.ts";
import { startPolicyServer } from "../helpers/policy-server.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import { testCa } from "../helpers/test-ca.ts";
import { requireTool } from "../helpers/tools.ts";

/**
 * MTA-STS through the whole pipeline: a real DNS server, an HTTPS policy host with a CA
 * only this test trusts, and receiving servers on 127.0.0.1 (named `localhost`, which the
 * sink's certificate covers) and ::1 (named `other.<domain>`, which policies do not list).
 */
test("MTA-STS: enforce skips unlisted MX and verifies certificates; testing delivers and records; the cache is honoured and refreshed", async (t) => {
  if (!requireTool(t, "dns-server")) return;
  const sink = await startSmtpSink();
  const sink6 = await startSmtpSink({ host: "::1", port: sink.port });
  const ca = await testCa();
  const policyCert = await ca.issue(["mta-sts.enforce.test", "mta-sts.testing.test", "mta-sts.nomatch.test"]);
  const policies = await startPolicyServer({
    ...policyCert,
    policies: {
      "enforce.test": "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n",
      "testing.test": "version: STSv1\nmode: testing\nmx: localhost\nmax_age: 86400\n",
      "nomatch.test": "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n",
    },
  });
  const zone = (domain: string, id: string) => ({
    [domain]: [
      { type: "MX" as const, value: `other.${domain}`, priority: 10 },
      { type: "MX" as const, value: "localhost", priority: 20 },
    ],
    [`other.${domain}`]: [{ type: "AAAA" as const, value: "::1" }],
    [`_mta-sts.${domain}`]: [{ type: "TXT" as const, value: `v=STSv1; id=${id}` }],
    [`mta-sts.${domain}`]: [{ type: "A" as const, value: "127.0.0.1" }],
  });
  const dns = await startDnsServer({
    localhost: [{ type: "A", value: "127.0.0.1" }],
    ...zone("enforce.test", "1"),
    ...zone("testing.test", "1"),
    ...zone("nomatch.test", "1"),
  });
  t.after(async () => {
    await Promise.all([sink.close(), sink6.close(), policies.close(), dns.close()]);
  });
  const sinkCert = (await testCertificate()).cert;
  const { app, adminKey } = await startTestApp(t, {
    env: {
      SEALPOST_DNS_SERVERS: dns.address,
      SEALPOST_DELIVERY_PORT: String(sink.port),
      SEALPOST_MTA_STS_PORT: String(policies.port),
    },
    deliveryCa: `${sinkCert}\n${ca.caCert}`,
  });
  const send = async (to: string) => {
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: { from: "clinic@example.com", to, subject: "Results", text: "Ready" },
    });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json().id;
    return eventually(async () => {
      const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
      return ["delivered", "deferred", "failed", "bounced"].includes(body.status) ? body : undefined;
    }, 20_000);
  };

  // enforce: other.enforce.test (priority 10, on ::1) is not in the policy and is never used.
  const enforced = await send("pat@enforce.test");
  assert.equal(enforced.status, "delivered", JSON.stringify(enforced.deliveries[0]));
  const ev = enforced.deliveries[0].evidence;
  assert.equal(ev.mx_host, "localhost");
  assert.equal(ev.cert_verified, true);
  assert.deepEqual(ev.mta_sts, {
    mode: "enforce",
    policy_id: "1",
    mx_mismatch: ["other.enforce.test"],
    error: null,
  });
  assert.equal(sink6.dataCount(), 0, "the unlisted MX got nothing");

  // testing: the unlisted MX is used first (priority 10) and the mismatch is recorded.
  const tested = await send("pat@testing.test");
  assert.equal(tested.status, "delivered");
  assert.equal(tested.deliveries[0].evidence.mx_host, "other.testing.test");
  assert.equal(tested.deliveries[0].evidence.mta_sts.mode, "testing");
  assert.deepEqual(tested.deliveries[0].evidence.mta_sts.mx_mismatch, ["other.testing.test"]);
  assert.equal(sink6.messages.length, 1);

  // enforce with no listed MX: deferred with the reason, nothing sent.
  const before = sink.dataCount() + sink6.dataCount();
  const blocked = await send("pat@nomatch.test");
  assert.equal(blocked.status, "deferred");
  assert.equal(blocked.deliveries[0].reason, "mta_sts_no_valid_mx");
  assert.equal(sink.dataCount() + sink6.dataCount(), before);

  // The cache: one fetch per policy so far; a new TXT id makes the next send fetch again.
  assert.equal(policies.requests("enforce.test"), 1);
  await send("second@enforce.test");
  assert.equal(policies.requests("enforce.test"), 1, "cached policy used");
  policies.set("enforce.test", "version: STSv1\nmode: testing\nmx: localhost\nmax_age: 86400\n");
  dns.set("_mta-sts.enforce.test", [{ type: "TXT", value: "v=STSv1; id=2" }]);
  const refreshed = await send("third@enforce.test");
  assert.equal(policies.requests("enforce.test"), 2, "refetched on a new id");
  assert.equal(refreshed.deliveries[0].evidence.mta_sts.mode, "testing");
  assert.equal(refreshed.deliveries[0].evidence.mta_sts.policy_id, "2");
});

test("MTA-STS enforce with a certificate that does not verify: deferred cert_invalid, no data sent", async (t) => {
  if (!requireTool(t, "dns-server")) return;
  const sink = await startSmtpSink();
  const ca = await testCa();
  const policyCert = await ca.issue(["mta-sts.strict.test"]);
  const policies = await startPolicyServer({
    ...policyCert,
    policies: { "strict.test": "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n" },
  });
  const dns = await startDnsServer({
    localhost: [{ type: "A", value: "127.0.0.1" }],
    "strict.test": [{ type: "MX", value: "localhost", priority: 10 }],
    "_mta-sts.strict.test": [{ type: "TXT", value: "v=STSv1; id=7" }],
    "mta-sts.strict.test": [{ type: "A", value: "127.0.0.1" }],
  });
  t.after(async () => {
    await Promise.all([sink.close(), policies.close(), dns.close()]);
  });
  // The policy host is trusted, the MX's self-signed certificate is not.
  const { app, adminKey } = await startTestApp(t, {
    env: {
      SEALPOST_DNS_SERVERS: dns.address,
      SEALPOST_DELIVERY_PORT: String(sink.port),
      SEALPOST_MTA_STS_PORT: String(policies.port),
    },
    deliveryCa: ca.caCert,
  });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { from: "clinic@example.com", to: "pat@strict.test", subject: "s", text: "t" },
  });
  const msg = await eventually(async () => {
    const body = (
      await app.api.inject({ url: `/v1/messages/${res.json().id}`, headers: auth(adminKey) })
    ).json();
    return body.status === "deferred" ? body : undefined;
  }, 20_000);
  assert.equal(msg.deliveries[0].reason, "cert_invalid");
  assert.equal(msg.deliveries[0].evidence.mta_sts.mode, "enforce");
  assert.equal(sink.dataCount(), 0);
});
