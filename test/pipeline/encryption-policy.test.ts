/**
 * Step "protect" end to end (ADR 0010 §4, §7): a real sealpost on the suite's store, real
 * receiving servers on loopback reached through the transport map (one offering STARTTLS,
 * one not), keys made by openssl and gpg, and what arrives opened with `openssl cms
 * -decrypt`, `gpg --decrypt` and checked with dkimverify against a test DNS server.
 *
 * The table: a key on file → S/MIME / PGP; no STARTTLS + auto → a portal notice with nothing
 * of the original; portal forbidden → failed portal_forbidden; encryption tls + no STARTTLS
 * → deferred, nothing plaintext; allow_non_tls honoured → plaintext; PHI → never plaintext.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { simpleParser } from "mailparser";
import { CLI_ACTOR } from "../../src/audit/entries.ts";
import { newId } from "../../src/core/ids.ts";
import { addressAad, materialAad, sealRk } from "../../src/recipient-keys/sealed.ts";
import { addressIndexOf, createRecipientKey } from "../../src/recipient-keys/service.ts";
import { insertRecipientKey } from "../../src/store/recipient-keys.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { type DnsRecord, type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";
import { type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";
import { requireTool } from "../helpers/tools.ts";
import { type KeyWorkshop, keyWorkshop } from "../recipient-keys/real-keys.ts";

const VERIFY = fileURLToPath(new URL("../helpers/dkimverify.py", import.meta.url));
const TOOLS = ["openssl", "gpg", "dns-server"] as const;
const missing = TOOLS.filter((tool) => !requireTool(undefined, tool));
const skip = missing.length === 0 ? false : `missing tools: ${missing.join(", ")}`;

const SUBJECT = "Your appointment on Tuesday";
const TEXT = "Dear Pat, see you at 10 in room 4. CANARY-c0ffee\n";
const SENDER = "Dr Who <dr.who@example.com>";

interface Delivery {
  status: string;
  reason: string | null;
  evidence: Record<string, unknown> & { encryption?: { mode: string; reason: string | null } };
}

function dkimverify(raw: Buffer, dns: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("/usr/bin/python3", [VERIFY, "--dns", dns, "--index", "0"], (err, stdout) =>
      err ? reject(Object.assign(err, { stdout })) : resolve(stdout),
    );
    child.stdin?.end(raw);
  });
}

describe("encryption policy end to end", { skip }, () => {
  let app: TestApp;
  let tlsSink: SmtpSink;
  let plainSink: SmtpSink;
  let legacySink: SmtpSink;
  let dns: DnsTestServer;
  let keys: KeyWorkshop;
  let work: string;

  before(async () => {
    tlsSink = await startSmtpSink();
    plainSink = await startSmtpSink({ starttls: false });
    legacySink = await startSmtpSink({
      tls: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" },
    });
    dns = await startDnsServer({});
    keys = keyWorkshop();
    work = mkdtempSync(join(tmpdir(), "sealpost-enc-"));
    app = await startTestApp(undefined, {
      env: {
        SEALPOST_DNS_SERVERS: dns.address,
        SEALPOST_TRANSPORT_MAP: [
          `tls.example=smtp://127.0.0.1:${tlsSink.port}`,
          `plain.example=smtp://127.0.0.1:${plainSink.port}`,
          `legacy.example=smtp://127.0.0.1:${legacySink.port}`,
        ].join(","),
        // A failed TLS handshake is retried once before the portal: make that retry quick.
        SEALPOST_RETRY_SCHEDULE: "2s",
        SEALPOST_PUBLIC_URL: "https://sealpost.test",
      },
      deliveryCa: (await testCertificate()).cert,
    });
    // Publish example.com's DKIM keys, so dkimverify can check what arrives.
    const list = (await app.app.api.inject({ url: "/v1/domains", headers: auth(app.adminKey) })).json();
    const domain = list.data.find((d: { name: string }) => d.name === "example.com");
    for (const r of domain.records as { purpose: string; name: string; value: string }[])
      if (r.purpose === "dkim") dns.set(r.name, [{ type: "TXT", value: r.value } satisfies DnsRecord]);
  });

  after(async () => {
    await app?.close();
    await Promise.all([tlsSink?.close(), plainSink?.close(), legacySink?.close(), dns?.close()]);
    keys?.remove();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** Stores a key through POST /v1/recipient-keys when the route exists, else the service. */
  async function addKey(kind: "smime" | "pgp", address: string, text: string): Promise<void> {
    const res = await app.app.api.inject({
      method: "POST",
      url: "/v1/recipient-keys",
      headers: auth(app.adminKey),
      payload: kind === "smime" ? { address, certificate: text } : { address, public_key: text },
    });
    if (res.statusCode === 201 || res.statusCode === 200) return;
    assert.equal(res.statusCode, 404, res.body);
    const deps = { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock, audit: app.app.audit };
    const scope = systemScope(app.app.db, app.app.defaultOrgId, "admin");
    await createRecipientKey(deps, scope, { kind, address, text }, CLI_ACTOR);
  }

  async function setPolicy(patch: Record<string, unknown>): Promise<void> {
    const res = await app.app.api.inject({
      method: "PUT",
      url: "/v1/policy",
      headers: auth(app.adminKey),
      payload: patch,
    });
    assert.equal(res.statusCode, 200, res.body);
  }

  async function send(payload: Record<string, unknown>): Promise<string> {
    const res = await app.app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(app.adminKey),
      payload: { from: SENDER, subject: SUBJECT, text: TEXT, ...payload },
    });
    assert.equal(res.statusCode, 202, res.body);
    return res.json().id;
  }

  async function settled(id: string, status: string | string[]) {
    const wanted = Array.isArray(status) ? status : [status];
    return eventually(async () => {
      const body = (
        await app.app.api.inject({ url: `/v1/messages/${id}`, headers: auth(app.adminKey) })
      ).json();
      const d = body.deliveries[0] as Delivery;
      return wanted.includes(d.status) ? { message: body, delivery: d } : undefined;
    });
  }

  function arrived(sink: SmtpSink, to: string): Buffer {
    const got = sink.messages.filter((m) => m.to.includes(to));
    assert.equal(got.length, 1);
    return got[0]?.raw ?? Buffer.alloc(0);
  }

  test("S/MIME key on file: application/pkcs7-mime that openssl opens to the text, DKIM passes", async () => {
    const to = "smime.pat@tls.example";
    const { cert, key } = keys.smime(to);
    await addKey("smime", to, cert);
    const id = await send({ to });
    const { delivery } = await settled(id, "delivered");
    assert.deepEqual(delivery.evidence.encryption, { mode: "smime", reason: "key_on_file" });
    assert.match(String(delivery.evidence.tls_version), /^TLSv1\.[23]$/);
    const raw = arrived(tlsSink, to);
    assert.match(raw.toString("latin1"), /Content-Type: application\/pkcs7-mime/i);
    assert.ok(!raw.includes("CANARY-c0ffee"), "the content is not in clear");
    writeFileSync(join(work, "smime.eml"), raw);
    writeFileSync(join(work, "smime.crt"), cert);
    writeFileSync(join(work, "smime.key"), key);
    const plain = execFileSync("openssl", [
      "cms",
      "-decrypt",
      "-in",
      join(work, "smime.eml"),
      "-recip",
      join(work, "smime.crt"),
      "-inkey",
      join(work, "smime.key"),
    ]);
    const parsed = await simpleParser(plain);
    assert.equal(parsed.text?.trim(), TEXT.trim());
    if (requireTool(undefined, "dkimverify"))
      assert.match(await dkimverify(raw, dns.address), /signature ok/);
  });

  test("PGP key on file: PGP/MIME that gpg decrypts to the text, DKIM passes", async () => {
    const to = "pgp.pat@tls.example";
    const made = keys.pgp(to, { algo: "ed25519", usage: "sign,cert", sub: "cv25519" });
    await addKey("pgp", to, made.publicKey);
    const id = await send({ to });
    const { delivery } = await settled(id, "delivered");
    assert.deepEqual(delivery.evidence.encryption, { mode: "pgp", reason: "key_on_file" });
    const raw = arrived(tlsSink, to);
    const text = raw.toString("latin1");
    assert.match(text, /multipart\/encrypted/i);
    assert.ok(!text.includes("CANARY-c0ffee"));
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(text)?.[0] ?? "";
    const home = join(work, "gnupg");
    execFileSync("mkdir", ["-p", "-m", "700", home]);
    const gpg = (args: string[], input?: string) =>
      execFileSync("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", ...args], {
        env: { ...process.env, GNUPGHOME: home },
        input,
        stdio: ["pipe", "pipe", "pipe"],
      });
    gpg(["--import"], keys.secretKey(made.fingerprint));
    const plain = gpg(["--decrypt"], armored);
    const parsed = await simpleParser(plain);
    assert.equal(parsed.text?.trim(), TEXT.trim());
    if (requireTool(undefined, "dkimverify"))
      assert.match(await dkimverify(raw, dns.address), /signature ok/);
  });

  test("smime requested without a key: failed no_recipient_key, nothing sent", async () => {
    const to = "nokey@tls.example";
    const id = await send({ to, encryption: "smime" });
    const { delivery } = await settled(id, "failed");
    assert.equal(delivery.reason, "no_recipient_key");
    assert.equal(tlsSink.messages.filter((m) => m.to.includes(to)).length, 0);
  });

  test("a key that cannot encrypt: failed encryption_failed, never sent in clear", async () => {
    const to = "broken.key@tls.example";
    const orgId = app.app.defaultOrgId;
    const id = newId("rk", Date.now());
    // A row as the validator would never accept it: material that is not a certificate.
    await insertRecipientKey(systemScope(app.app.db, orgId, "admin"), {
      id,
      org_id: orgId,
      kind: "smime",
      address_bidx: await addressIndexOf(app.app.keyring, orgId, to),
      address: await sealRk(app.app.keyring, orgId, to, addressAad(id)),
      material: await sealRk(app.app.keyring, orgId, "not a certificate", materialAad(id)),
      key_id: "broken",
      fingerprint: "00".repeat(32),
      algorithm: "rsa-3072",
      not_after: null,
      created_at: Date.now(),
      created_by: "test",
    });
    const msg = await send({ to });
    const { delivery } = await settled(msg, "failed");
    assert.equal(delivery.reason, "encryption_failed");
    assert.deepEqual(delivery.evidence.encryption, { mode: "smime", reason: "key_on_file" });
    assert.equal(tlsSink.messages.filter((m) => m.to.includes(to)).length, 0);
  });

  test("no STARTTLS + auto: a portal notice arrives with nothing of the original", async () => {
    const to = "notice.pat@plain.example";
    const id = await send({ to });
    const { message, delivery } = await settled(id, "delivered");
    assert.equal(delivery.evidence.encryption?.mode, "portal");
    assert.equal(delivery.evidence.encryption?.reason, "tls_unavailable");
    assert.equal(delivery.evidence.tls_version, null);
    assert.ok(message.events.some((e: { type: string }) => e.type === "portal_notified"));
    const raw = arrived(plainSink, to);
    const text = raw.toString("utf8");
    assert.match(text, /https:\/\/sealpost\.test\/portal\//);
    for (const secret of ["CANARY-c0ffee", SUBJECT, "dr.who@example.com", "Dr Who"])
      assert.ok(!text.includes(secret), "nothing of the original message");
    if (requireTool(undefined, "dkimverify"))
      assert.match(await dkimverify(raw, dns.address), /signature ok/);
    // The compliance report counts it as a portal fallback.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    const report = (
      await app.app.api.inject({
        url: `/v1/reports/compliance?from=${since}&to=${until}`,
        headers: auth(app.adminKey),
      })
    ).json();
    assert.ok(report.portal_fallbacks.count >= 1, JSON.stringify(report.portal_fallbacks));
    assert.ok(report.portal_fallbacks.by_reason.tls_unavailable >= 1);
    assert.ok(report.protection.by_mode.portal >= 1);
  });

  test("TLS 1.0/1.1 only + auto: retried once, then a portal notice over the old TLS", async () => {
    const to = "legacy.pat@legacy.example";
    const id = await send({ to });
    const { message, delivery } = await settled(id, "delivered");
    assert.deepEqual(delivery.evidence.encryption, { mode: "portal", reason: "tls_unavailable" });
    assert.match(String(delivery.evidence.tls_version), /^TLSv1(\.1)?$/);
    const types = message.events.map((e: { type: string }) => e.type);
    assert.ok(types.indexOf("deferred") < types.indexOf("portal_notified"), types.join(","));
    const text = arrived(legacySink, to).toString("utf8");
    assert.match(text, /https:\/\/sealpost\.test\/portal\//);
    for (const secret of ["CANARY-c0ffee", SUBJECT]) assert.ok(!text.includes(secret));
    assert.equal(legacySink.plaintextDataCount(), 0);
  });

  test("encryption tls + no STARTTLS: deferred, nothing plaintext", async () => {
    const to = "tlsonly@plain.example";
    const before = plainSink.plaintextDataCount();
    const id = await send({ to, encryption: "tls" });
    const { delivery } = await settled(id, "deferred");
    assert.equal(delivery.reason, "tls_unavailable");
    assert.deepEqual(delivery.evidence.encryption, { mode: "tls", reason: "requested" });
    assert.equal(plainSink.plaintextDataCount(), before);
    await app.app.api.inject({
      method: "POST",
      url: `/v1/messages/${id}/cancel`,
      headers: auth(app.adminKey),
    });
  });

  test("allow_non_tls honoured (no PHI, org allows): delivered in plaintext", async () => {
    await setPolicy({ allow_non_tls: true });
    try {
      const to = "plainok@plain.example";
      const id = await send({ to, text: "Your parcel ships today.\n", allow_non_tls: true });
      const { delivery } = await settled(id, "delivered");
      assert.deepEqual(delivery.evidence.encryption, { mode: "none", reason: "no_phi_allow_non_tls" });
      assert.equal(delivery.evidence.tls_version, null);
      const raw = arrived(plainSink, to);
      assert.ok(raw.toString().includes("Your parcel ships today."));

      // With PHI the request is not honoured: never plaintext, the portal instead.
      const phiTo = "phi@plain.example";
      const phi = await send({
        to: phiTo,
        text: "Patient SSN 123-45-6789, MRN: 8812345.\n",
        allow_non_tls: true,
      });
      const settledPhi = await settled(phi, ["delivered", "deferred", "failed"]);
      assert.notEqual(settledPhi.delivery.evidence.encryption?.mode, "none");
      const got = plainSink.messages.filter((m) => m.to.includes(phiTo));
      for (const m of got) assert.ok(!m.raw.toString().includes("123-45-6789"), "never the PHI in clear");
    } finally {
      await setPolicy({ allow_non_tls: false });
    }
  });

  test("test mode: the sandbox keeps what would have been sent (encrypted, notice, plain)", async () => {
    const testKey = await app.key(["messages:send", "messages:read", "messages:read_content"], "test");
    const to = "sandbox.pat@tls.example";
    await addKey("smime", to, keys.smime(to).cert);
    const captured = async (payload: Record<string, unknown>) => {
      const res = await app.app.api.inject({
        method: "POST",
        url: "/v1/messages",
        headers: auth(testKey),
        payload: { from: SENDER, subject: SUBJECT, text: TEXT, ...payload },
      });
      assert.equal(res.statusCode, 202, res.body);
      const { message, delivery } = await settled(res.json().id, "delivered");
      const got = (
        await app.app.api.inject({
          url: `/v1/sandbox/messages/${message.deliveries[0].id}`,
          headers: auth(testKey),
        })
      ).json();
      return { delivery, raw: Buffer.from(got.raw, "base64").toString("utf8") };
    };
    const encrypted = await captured({ to });
    assert.deepEqual(encrypted.delivery.evidence.encryption, { mode: "smime", reason: "key_on_file" });
    assert.match(encrypted.raw, /application\/pkcs7-mime/i);
    assert.ok(!encrypted.raw.includes("CANARY-c0ffee"));
    const notice = await captured({ to: "portal.pat@plain.example", encryption: "portal" });
    assert.deepEqual(notice.delivery.evidence.encryption, { mode: "portal", reason: "requested" });
    assert.match(notice.raw, /https:\/\/sealpost\.test\/portal\//);
    assert.ok(!notice.raw.includes("CANARY-c0ffee"));
    // auto without a key: TLS counts as available in test mode.
    const plain = await captured({ to: "plain.pat@plain.example" });
    assert.deepEqual(plain.delivery.evidence.encryption, { mode: "tls", reason: "tls_available" });
    assert.ok(plain.raw.includes("CANARY-c0ffee"));
    assert.equal(plainSink.messages.filter((m) => m.to.includes("pat@plain.example")).length, 0);
  });

  test("portal forbidden: failed portal_forbidden with the TLS evidence, nothing sent", async () => {
    await setPolicy({ portal: "forbid" });
    try {
      const to = "forbidden@plain.example";
      const id = await send({ to });
      const { delivery, message } = await settled(id, "failed");
      assert.equal(delivery.reason, "portal_forbidden");
      assert.equal(delivery.evidence.mx_host, "127.0.0.1");
      assert.equal(delivery.evidence.tls_version, null);
      assert.equal(delivery.evidence.encryption?.reason, "tls_unavailable");
      assert.ok(!message.events.some((e: { type: string }) => e.type === "portal_notified"));
      assert.equal(plainSink.messages.filter((m) => m.to.includes(to)).length, 0);
    } finally {
      await setPolicy({ portal: "allow" });
    }
  });
});
