/**
 * The audit trail's sources besides HTTP requests (ADR 0009 §2): SMTP sessions, AUTH and
 * messages; key, org, signing-key, domain and suppression changes over the API and the CLI;
 * and every delivery event, from submit to the worker's results. Each lands in the right
 * chain with its actor and target ids, no field holds an address, and the chain verifies.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import nodemailer from "nodemailer";
import { verifyStoredChain } from "../../src/audit/verify-store.ts";
import { createKey, operatorGrantor } from "../../src/auth/keys.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Sealpost } from "../../src/main.ts";
import { listEntries } from "../../src/store/audit.ts";
import { type Db, openDb } from "../../src/store/db.ts";
import { findOrgByName } from "../../src/store/orgs.ts";
import type { AuditLogTable } from "../../src/store/schema.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth, BOOTSTRAP_KEY, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { cliEnv, runCliJson } from "../helpers/cli.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const ADDRESSES = [
  "clinic@example.com",
  "patient@example.org",
  "gone@example.org",
  "pat@example.org",
  "blocked@example.net",
];

async function entries(db: Db, chain: string): Promise<AuditLogTable[]> {
  return listEntries(db, chain, {}, 10_000);
}

/** Waits until the chain holds an entry matching `match` (buffered entries commit within ms). */
async function entryOf(
  app: Sealpost,
  chain: string,
  match: (e: AuditLogTable) => boolean,
): Promise<AuditLogTable> {
  return eventually(async () => {
    await app.audit.flush();
    return (await entries(app.db, chain)).find(match);
  });
}

function details(e: AuditLogTable): Record<string, unknown> {
  return JSON.parse(e.details) as Record<string, unknown>;
}

/** No field of any entry holds an address (or anything with an `@`), and the chain verifies. */
async function checkChain(db: Db, chain: string): Promise<void> {
  const all = await entries(db, chain);
  assert.ok(all.length > 0, `chain ${chain} has entries`);
  for (const e of all) {
    const text = JSON.stringify(e);
    assert.ok(!text.includes("@"), `no address in ${e.action}: ${text}`);
    for (const a of ADDRESSES) assert.ok(!text.includes(a));
  }
  const report = await verifyStoredChain(db, chain);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.checked, all.length);
}

async function api(app: Sealpost, method: "GET" | "POST" | "DELETE", url: string, payload?: object) {
  const res = await app.api.inject({
    method,
    url,
    headers: auth(BOOTSTRAP_KEY),
    ...(payload === undefined ? {} : { payload }),
  });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.statusCode === 204 ? null : res.json();
}

test("key, domain and suppression changes over the API are recorded before the answer", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const org = app.defaultOrgId;
  const bootstrap = (await entries(app.db, org)).length;
  const created = await api(app, "POST", "/v1/api-keys", { scopes: ["messages:send"], name: "ci" });
  await api(app, "POST", `/v1/api-keys/${created.id}/rotate`, { overlap_seconds: 0 });
  await api(app, "DELETE", `/v1/api-keys/${created.id}`);
  await api(app, "DELETE", `/v1/api-keys/${created.id}`);
  const domain = await api(app, "POST", "/v1/domains", { name: "lab.example" });
  await api(app, "POST", `/v1/domains/${domain.id}/rotate-dkim`);
  const suppression = await api(app, "POST", "/v1/suppressions", { address: "blocked@example.net" });
  await api(app, "DELETE", "/v1/suppressions/blocked@example.net");

  // recordNow: committed before each answer, no flush needed.
  const changes = (await entries(app.db, org)).slice(bootstrap).filter((e) => e.action !== "http.request");
  assert.deepEqual(
    changes.map((e) => [e.action, e.target_type, e.target_id]),
    [
      ["key.create", "key", created.id],
      ["key.rotate", "key", created.id],
      ["key.revoke", "key", created.id],
      ["domain.add", "domain", domain.id],
      ["domain.rotate_dkim", "domain", domain.id],
      ["suppression.add", "suppression", suppression.id],
      ["suppression.remove", "suppression", suppression.id],
    ],
    "a second revoke changes nothing and is not a key.revoke",
  );
  const bootstrapKeyId = changes[0]?.actor_id;
  assert.match(bootstrapKeyId ?? "", /^key_[0-9a-z]{26}$/);
  for (const e of changes) {
    assert.equal(e.actor_type, "key");
    assert.equal(e.actor_id, bootstrapKeyId);
    assert.equal(e.outcome, "ok");
    assert.equal(e.source_ip, "127.0.0.1");
    assert.match(e.request_id ?? "", /^req_/);
  }
  assert.deepEqual(details(changes[0] as AuditLogTable), {
    expires_at: null,
    mode: "live",
    scopes: ["messages:send"],
  });
  assert.deepEqual(details(changes[3] as AuditLogTable), { state: "pending" });
  assert.deepEqual(details(changes[5] as AuditLogTable), { delivery_id: null, reason: "manual" });
  // The answer's own http.request entry is buffered: settle it, or it lands mid-check.
  await app.audit.flush();
  await checkChain(app.db, org);
});

test("orgs and the signing key over the admin API go to the instance chain (and the new org's)", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const admin = await createKey(
    app.keys,
    systemScope(app.db, app.defaultOrgId, "admin"),
    operatorGrantor("cli"),
    {
      name: "ops",
      mode: "live",
      scopes: ["instance:admin"],
    },
  );
  const headers = auth(admin.token);
  const made = await app.api.inject({
    method: "POST",
    url: "/v1/admin/orgs",
    headers,
    payload: { name: "clinic-b", admin_key: true },
  });
  assert.equal(made.statusCode, 201, made.body);
  const org = made.json();
  const rotated = await app.api.inject({ method: "POST", url: "/v1/admin/signing-keys/rotate", headers });
  assert.equal(rotated.statusCode, 200, rotated.body);

  const instance = (await entries(app.db, "instance")).filter((e) => e.action !== "http.request");
  assert.deepEqual(
    instance.map((e) => [e.action, e.target_type, e.target_id, e.actor_id]),
    [
      ["org.create", "org", org.id, admin.key.id],
      ["signing_key.rotate", "signing_key", rotated.json().kid, admin.key.id],
    ],
  );
  const own = (await entries(app.db, org.id)).filter((e) => e.action !== "http.request");
  assert.deepEqual(
    own.map((e) => [e.action, e.target_id]),
    [
      ["org.create", org.id],
      ["key.create", org.admin_key.id],
    ],
  );
  await app.audit.flush();
  await checkChain(app.db, "instance");
  await checkChain(app.db, org.id);
});

test("the CLI records the operator's key, org and signing-key changes", async (t) => {
  const env = await cliEnv(t);
  const org = runCliJson(["orgs", "create", "clinic-c", "--admin-key"], env);
  const key = runCliJson(["keys", "create", "--org", "clinic-c", "--scopes", "messages:send"], env);
  runCliJson(["keys", "rotate", "--org", "clinic-c", "--id", key.id, "--overlap", "0"], env);
  runCliJson(["keys", "revoke", "--org", "clinic-c", "--id", key.id], env);
  const jwks = runCliJson(["jwks", "rotate"], env);

  const config = loadConfig(env);
  const db = openDb(config.database, config.dataDir);
  t.after(() => db.close());
  assert.equal((await findOrgByName(db, "clinic-c"))?.id, org.id);
  const own = await entries(db, org.id);
  assert.deepEqual(
    own.map((e) => [e.action, e.target_id, e.actor_type, e.actor_id]),
    [
      ["org.create", org.id, "operator", "cli"],
      ["key.create", org.admin_key.id, "operator", "cli"],
      ["key.create", key.id, "operator", "cli"],
      ["key.rotate", key.id, "operator", "cli"],
      ["key.revoke", key.id, "operator", "cli"],
    ],
  );
  const instance = await entries(db, "instance");
  assert.deepEqual(
    instance.map((e) => [e.action, e.target_id]),
    [
      ["org.create", org.id],
      ["signing_key.rotate", jwks.kid],
    ],
  );
  await checkChain(db, org.id);
  await checkChain(db, "instance");
});

function transport(port: number, user: string, pass: string) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    requireTLS: true,
    auth: { user, pass },
    tls: { rejectUnauthorized: false },
  });
}

test("SMTP sessions, AUTH and messages, and every delivery event, land in the org's chain", async (t) => {
  const sink = await startSmtpSink({ rejectRcpt: (a) => (a.startsWith("gone") ? 550 : null) });
  t.after(() => sink.close());
  const { app } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    deliveryCa: (await testCertificate()).cert,
  });
  const ports = await app.listenSmtp();
  const org = app.defaultOrgId;
  const key = await api(app, "POST", "/v1/api-keys", { scopes: ["messages:send"] });

  // One session: AUTH, one message accepted, relayed to the sink; one refused at MAIL FROM.
  const sent = await transport(ports.smtp, key.id, key.key).sendMail({
    from: "clinic@example.com",
    to: "patient@example.org",
    subject: "Lab results",
    text: "Ready.",
  });
  const messageId = /queued as (msg_[0-9a-z]{26})/.exec(sent.response)?.[1] ?? "";
  await assert.rejects(
    transport(ports.smtp, key.id, key.key).sendMail({
      from: "clinic@unverified.example",
      to: "patient@example.org",
      subject: "x",
      text: "x",
    }),
    (err: { responseCode?: number }) => err.responseCode === 550,
  );
  await assert.rejects(
    transport(ports.smtp, "api", "sp_live_wrong").sendMail({
      from: "clinic@example.com",
      to: "pat@example.org",
      text: "x",
    }),
    (err: { responseCode?: number }) => err.responseCode === 535,
  );
  // Over the API: one recipient delivered, one bounced by the receiving server.
  const bounced = await api(app, "POST", "/v1/messages", {
    from: "clinic@example.com",
    to: ["gone@example.org"],
    subject: "Results",
    text: "Ready.",
  });
  const goneDelivery = bounced.deliveries[0].id;

  const authOk = await entryOf(app, org, (e) => e.action === "smtp.auth");
  assert.equal(authOk.outcome, "ok");
  assert.equal(authOk.actor_id, key.id);
  assert.equal(authOk.status, 235);
  assert.equal(authOk.source_ip, "127.0.0.1");
  const accepted = await entryOf(app, org, (e) => e.action === "smtp.message" && e.outcome === "ok");
  assert.equal(accepted.target_id, messageId);
  const refused = await entryOf(app, org, (e) => e.action === "smtp.message" && e.outcome !== "ok");
  assert.equal(refused.outcome, "domain_not_verified");
  assert.equal(refused.status, 550);
  assert.deepEqual(details(refused), { phase: "mail" });
  const session = await entryOf(app, org, (e) => e.action === "smtp.session" && details(e).messages === 1);
  assert.equal(session.actor_id, key.id);
  assert.match(String(details(session).tls_version), /^TLSv1\.[23]$/);
  assert.equal(typeof details(session).tls_cipher, "string");
  assert.equal(details(session).failures, 0);
  const wrong = await entryOf(app, "instance", (e) => e.action === "smtp.auth");
  assert.equal(wrong.actor_type, "anonymous");
  assert.equal(wrong.outcome, "unauthorized");
  assert.equal(wrong.status, 535);
  await entryOf(app, "instance", (e) => e.action === "smtp.session" && e.actor_id === null);

  // Delivery events: submit (queued) and the worker (sent, delivered; bounced), with TLS evidence.
  const [delivered] = (
    await eventually(async () => {
      const m = await api(app, "GET", `/v1/messages/${messageId}`);
      return m.status === "delivered" ? m : undefined;
    })
  ).deliveries;
  const byDelivery = async (id: string, action: string) =>
    entryOf(app, org, (e) => e.target_id === id && e.action === action);
  const queued = await byDelivery(delivered.id, "delivery.queued");
  assert.equal(queued.actor_id, key.id);
  assert.equal(details(queued).message_id, messageId);
  await byDelivery(delivered.id, "delivery.sent");
  const done = await byDelivery(delivered.id, "delivery.delivered");
  assert.equal(done.actor_type, "system");
  assert.equal(done.actor_id, "worker");
  assert.equal(done.outcome, "ok");
  assert.equal(done.target_type, "delivery");
  const evidence = details(done);
  assert.match(String(evidence.tls_version), /^TLSv1\.[23]$/);
  assert.equal(typeof evidence.tls_cipher, "string");
  assert.equal(typeof evidence.cert_verified, "boolean");
  assert.equal(evidence.reply_code, 250);
  assert.equal(evidence.attempt, 1);
  const bounce = await byDelivery(goneDelivery, "delivery.bounced");
  assert.equal(details(bounce).reason, "rejected_permanent");
  assert.equal(details(bounce).reply_code, 550);
  const suppressed = await entryOf(app, org, (e) => e.action === "suppression.add");
  assert.equal(suppressed.actor_id, "worker");
  assert.deepEqual(details(suppressed), { delivery_id: goneDelivery, reason: "hard_bounce" });

  await app.audit.flush();
  await checkChain(app.db, org);
  await checkChain(app.db, "instance");
});
