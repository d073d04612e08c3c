import assert from "node:assert/strict";
import { test } from "node:test";
import { createResolver } from "../../src/delivery/dns.ts";
import { type TlsCheckDeps, tlsCheck } from "../../src/tools/tls-check.ts";
import { auth, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { startDnsServer } from "../helpers/dns-server.ts";
import { startPolicyServer } from "../helpers/policy-server.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import { testCa } from "../helpers/test-ca.ts";

test("tls-check reports what the test set up: MX, STARTTLS, TLS version, certificate, MTA-STS, TLS-RPT, verdict", async (t) => {
  const good = await startSmtpSink();
  const plain = await startSmtpSink({ starttls: false });
  const legacy = await startSmtpSink({
    tls: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" },
  });
  const ca = await testCa();
  const policyCert = await ca.issue(["mta-sts.good.test"]);
  const policies = await startPolicyServer({
    ...policyCert,
    policies: { "good.test": "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n" },
  });
  const dns = await startDnsServer({
    "good.test": [{ type: "MX", value: "localhost", priority: 10 }],
    localhost: [{ type: "A", value: "127.0.0.1" }],
    "_mta-sts.good.test": [{ type: "TXT", value: "v=STSv1; id=20261126" }],
    "mta-sts.good.test": [{ type: "A", value: "127.0.0.1" }],
    "_smtp._tls.good.test": [{ type: "TXT", value: "v=TLSRPTv1; rua=mailto:tls@good.test" }],
    "plain.test": [{ type: "MX", value: "mx.plain.test", priority: 5 }],
    "mx.plain.test": [{ type: "A", value: "127.0.0.1" }],
    "legacy.test": [{ type: "A", value: "127.0.0.1" }],
    "nomail.test": [{ type: "MX", value: ".", priority: 0 }],
  });
  t.after(async () => {
    await Promise.all([good.close(), plain.close(), legacy.close(), policies.close(), dns.close()]);
  });
  const deps = (port: number): TlsCheckDeps => ({
    resolver: createResolver([dns.address], 3000),
    port,
    heloName: "sealpost.test",
    timeoutMs: 3000,
    ca: undefined,
    now: () => Date.now(),
    mtaSts: { httpsPort: policies.port, ca: ca.caCert, timeoutMs: 3000 },
  });

  const cert = await testCertificate();
  const strong = await tlsCheck("good.test", { ...deps(good.port), ca: cert.cert });
  assert.equal(strong.verdict, "strong", JSON.stringify(strong, null, 1));
  const mx = strong.mx[0];
  assert.equal(mx?.host, "localhost");
  assert.equal(mx?.probe?.starttls, true);
  assert.match(mx?.probe?.tls_version ?? "", /^TLSv1\.[23]$/);
  assert.equal(mx?.probe?.cert_verified, true);
  assert.equal(mx?.probe?.name_match, true);
  assert.ok((mx?.probe?.days_left ?? 0) > 0);
  assert.equal(mx?.policy_match, true);
  assert.equal(strong.mta_sts.mode, "enforce");
  assert.equal(strong.mta_sts.id, "20261126");
  assert.equal(strong.tls_rpt, "v=TLSRPTv1; rua=mailto:tls@good.test");

  const unverified = await tlsCheck("good.test", deps(good.port));
  assert.equal(unverified.verdict, "tls_unverified");
  assert.equal(unverified.mx[0]?.probe?.cert_error, "DEPTH_ZERO_SELF_SIGNED_CERT");

  const noTls = await tlsCheck("plain.test", deps(plain.port));
  assert.equal(noTls.verdict, "insecure");
  assert.equal(noTls.mx[0]?.probe?.starttls, false);
  assert.equal(noTls.mta_sts.mode, "none");
  assert.equal(noTls.tls_rpt, null);
  assert.ok(noTls.notes.some((n) => n.includes("no STARTTLS")));
  assert.equal(plain.dataCount(), 0);

  const old = await tlsCheck("legacy.test", deps(legacy.port));
  assert.equal(old.verdict, "insecure");
  assert.equal(old.implicit_mx, true);
  assert.match(old.mx[0]?.probe?.tls_version ?? "", /^TLSv1(\.1)?$/);

  const none = await tlsCheck("nomail.test", deps(good.port));
  assert.equal(none.verdict, "no_mail");
  assert.equal(none.null_mx, true);

  const closed = await tlsCheck("plain.test", deps(1));
  assert.equal(closed.verdict, "unreachable");
});

test("GET /v1/tools/tls-check validates the domain", async (t) => {
  const { app, adminKey } = await startTestApp(t);
  const missing = await app.api.inject({ url: "/v1/tools/tls-check", headers: auth(adminKey) });
  assert.equal(missing.json().code, "missing_field");
  const bad = await app.api.inject({
    url: "/v1/tools/tls-check?domain=not%20a%20domain",
    headers: auth(adminKey),
  });
  assert.equal(bad.json().code, "invalid_value");
});
