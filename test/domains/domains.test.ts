import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { startDnsServer, type DnsRecord as ZoneRecord } from "../helpers/dns-server.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import { requireTool } from "../helpers/tools.ts";

const VERIFY = fileURLToPath(new URL("../helpers/dkimverify.py", import.meta.url));

interface PublishedRecord {
  purpose: string;
  type: string;
  name: string;
  value: string;
  algorithm?: string;
}

/** Puts the records a domain asks for into the test DNS zone (what an admin would do). */
function publish(zone: Record<string, ZoneRecord[]>, records: PublishedRecord[], skip: string[] = []): void {
  for (const r of records) {
    if (skip.includes(r.purpose) || r.type === "HTTPS") continue;
    const list = zone[r.name] ?? [];
    if (r.type === "MX") {
      const [prio, host] = r.value.split(" ");
      list.push({ type: "MX", value: host ?? "", priority: Number(prio) });
    } else list.push({ type: "TXT", value: r.value });
    zone[r.name] = list;
  }
}

function dkimverify(raw: Buffer, dns: string, index: number): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "/usr/bin/python3",
      [VERIFY, "--dns", dns, "--index", String(index)],
      (err, stdout) => (err ? reject(Object.assign(err, { stdout })) : resolve({ stdout })),
    );
    child.stdin?.end(raw);
  });
}

test("a domain: records to publish, verify in DNS, live sending only once verified, both DKIM signatures pass dkimverify", async (t) => {
  if (!requireTool(t, "dkimverify")) return;
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const zone: Record<string, ZoneRecord[]> = {
    "patients.example": [{ type: "MX", value: "mx.patients.example", priority: 10 }],
    "mx.patients.example": [{ type: "A", value: "127.0.0.1" }],
  };
  const dns = await startDnsServer(zone);
  t.after(() => dns.close());
  const { app, adminKey } = await startTestApp(t, {
    verifiedDomains: [],
    env: { SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DELIVERY_PORT: String(sink.port) },
    deliveryCa: (await testCertificate()).cert,
  });
  const created = await app.api.inject({
    method: "POST",
    url: "/v1/domains",
    headers: auth(adminKey),
    payload: { name: "Clinic.Test" },
  });
  assert.equal(created.statusCode, 201, created.body);
  const domain = created.json();
  assert.equal(domain.name, "clinic.test");
  assert.equal(domain.status, "pending");
  const purposes = domain.records.map((r: PublishedRecord) => r.purpose);
  for (const p of ["dkim", "spf", "dmarc", "mta-sts", "mta-sts-policy", "tls-rpt"])
    assert.ok(purposes.includes(p), p);
  const dkim = domain.records.filter((r: PublishedRecord) => r.purpose === "dkim");
  assert.deepEqual(dkim.map((r: PublishedRecord) => r.algorithm).sort(), ["ed25519", "rsa"]);
  assert.match(
    dkim.find((r: PublishedRecord) => r.algorithm === "ed25519").value,
    /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/,
  );

  const message = {
    from: "Clinic <results@clinic.test>",
    to: "pat@patients.example",
    subject: "Results",
    text: "Ready.\n",
  };
  const refused = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: message,
  });
  assert.equal(refused.statusCode, 422);
  assert.equal(refused.json().code, "domain_not_verified");

  // Nothing published yet: verify reports each record missing.
  const first = (
    await app.api.inject({ method: "POST", url: `/v1/domains/${domain.id}/verify`, headers: auth(adminKey) })
  ).json();
  assert.equal(first.status, "pending");
  assert.ok(first.last_check.checks.every((c: { status: string }) => c.status === "missing"));

  publish(zone, domain.records, ["mta-sts"]);
  dns.set("clinic.test", zone["clinic.test"] ?? []);
  for (const [name, records] of Object.entries(zone)) dns.set(name, records);
  const second = (
    await app.api.inject({ method: "POST", url: `/v1/domains/${domain.id}/verify`, headers: auth(adminKey) })
  ).json();
  assert.equal(second.status, "verified", JSON.stringify(second.last_check));
  const byPurpose = Object.fromEntries(
    second.last_check.checks.map((c: { purpose: string; status: string; name: string }) => [
      `${c.purpose} ${c.name}`,
      c.status,
    ]),
  );
  assert.equal(byPurpose["spf clinic.test"], "ok");
  assert.equal(byPurpose["dmarc _dmarc.clinic.test"], "ok");
  assert.equal(byPurpose["tls-rpt _smtp._tls.clinic.test"], "ok");
  assert.equal(byPurpose["mta-sts _mta-sts.clinic.test"], "missing", "reported, not required");

  const sent = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: message,
  });
  assert.equal(sent.statusCode, 202, sent.body);
  await eventually(async () => {
    const body = (
      await app.api.inject({ url: `/v1/messages/${sent.json().id}`, headers: auth(adminKey) })
    ).json();
    return body.status === "delivered" ? body : undefined;
  });
  const raw = sink.messages[0]?.raw ?? Buffer.alloc(0);
  const signatures = raw.toString().match(/^DKIM-Signature:.*$/gim) ?? [];
  assert.equal(signatures.length, 2);
  assert.match(raw.toString(), /a=rsa-sha256/);
  assert.match(raw.toString(), /a=ed25519-sha256/);
  for (const index of [0, 1]) {
    const result = await dkimverify(raw, dns.address, index);
    assert.match(result.stdout, /signature ok/, `signature ${index}`);
  }
});

test("DKIM rotation: new selectors sign only after their records are in DNS", async (t) => {
  const zone: Record<string, ZoneRecord[]> = {};
  const dns = await startDnsServer(zone);
  t.after(() => dns.close());
  const { app, adminKey } = await startTestApp(t, {
    verifiedDomains: [],
    env: { SEALPOST_DNS_SERVERS: dns.address },
  });
  const domain = (
    await app.api.inject({
      method: "POST",
      url: "/v1/domains",
      headers: auth(adminKey),
      payload: { name: "rotate.test" },
    })
  ).json();
  publish(zone, domain.records);
  for (const [name, records] of Object.entries(zone)) dns.set(name, records);
  assert.equal(
    (
      await app.api.inject({
        method: "POST",
        url: `/v1/domains/${domain.id}/verify`,
        headers: auth(adminKey),
      })
    ).json().status,
    "verified",
  );
  const oldSelectors = domain.dkim.map((k: { selector: string }) => k.selector).sort();

  const rotated = (
    await app.api.inject({
      method: "POST",
      url: `/v1/domains/${domain.id}/rotate-dkim`,
      headers: auth(adminKey),
    })
  ).json();
  assert.deepEqual(
    rotated.dkim.map((k: { selector: string }) => k.selector).sort(),
    oldSelectors,
    "old keys still sign",
  );
  const again = await app.api.inject({
    method: "POST",
    url: `/v1/domains/${domain.id}/rotate-dkim`,
    headers: auth(adminKey),
  });
  assert.equal(again.statusCode, 409);
  const newRecords = rotated.records.filter(
    (r: PublishedRecord & { selector?: string }) =>
      r.purpose === "dkim" && !oldSelectors.includes(r.selector ?? ""),
  );
  assert.equal(newRecords.length, 2);
  // Verify before publishing: still the old keys, domain still verified.
  const mid = (
    await app.api.inject({ method: "POST", url: `/v1/domains/${domain.id}/verify`, headers: auth(adminKey) })
  ).json();
  assert.equal(mid.status, "verified");
  assert.deepEqual(mid.dkim.map((k: { selector: string }) => k.selector).sort(), oldSelectors);
  publish(zone, newRecords);
  for (const [name, records] of Object.entries(zone)) dns.set(name, records);
  const done = (
    await app.api.inject({ method: "POST", url: `/v1/domains/${domain.id}/verify`, headers: auth(adminKey) })
  ).json();
  assert.equal(done.status, "verified");
  const newSelectors = done.dkim.map((k: { selector: string }) => k.selector).sort();
  assert.notDeepEqual(newSelectors, oldSelectors);
  assert.deepEqual(newSelectors, newRecords.map((r: { selector: string }) => r.selector).sort());
});

test("domain requests: bad names, duplicates, unknown ids", async (t) => {
  const { app, adminKey } = await startTestApp(t, { verifiedDomains: [] });
  const post = (payload: unknown) =>
    app.api.inject({
      method: "POST",
      url: "/v1/domains",
      headers: auth(adminKey),
      payload: payload as object,
    });
  for (const [payload, code] of [
    [{ name: "not a domain" }, "invalid_value"],
    [{ name: "localhost" }, "invalid_value"],
    [{ name: 5 }, "invalid_value"],
    [{}, "missing_field"],
    [{ name: "a.test", extra: 1 }, "unknown_field"],
  ] as const) {
    const res = await post(payload);
    assert.equal(res.json().code, code, JSON.stringify(payload));
    assert.ok(res.statusCode >= 400 && res.statusCode < 500);
  }
  assert.equal((await post({ name: "dup.test" })).statusCode, 201);
  assert.equal((await post({ name: "DUP.test" })).json().code, "invalid_state");
  assert.equal(
    (await app.api.inject({ url: "/v1/domains/dom_nope", headers: auth(adminKey) })).statusCode,
    404,
  );
  const list = (await app.api.inject({ url: "/v1/domains", headers: auth(adminKey) })).json();
  assert.deepEqual(
    list.data.map((d: { name: string }) => d.name),
    ["dup.test"],
  );
});
