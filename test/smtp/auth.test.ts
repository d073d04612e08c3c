/**
 * SMTP AUTH (ADR 0008 §4): PLAIN and LOGIN through the same authenticator as HTTP; a token
 * as password ignores the username unless it is a key id; each MAIL FROM checks the key
 * again (revocation), charges the rate limit (451 4.7.0) and applies the key's sender
 * domains (550 5.7.1); a locked-out address gets 454 4.7.0.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import nodemailer from "nodemailer";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY } from "../helpers/app.ts";
import { command, line, QUEUED, rawSession, smtpApp } from "./setup.ts";

function transport(port: number, user: string, pass: string, method: "PLAIN" | "LOGIN") {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    requireTLS: true,
    auth: { user, pass, method },
    tls: { rejectUnauthorized: false },
  });
}

const mail = {
  from: "clinic@example.com",
  to: "pat@example.org",
  subject: "Hello",
  text: "Hi",
  headers: { "X-Sealpost-Sandbox": "true" },
};

async function newKey(app: Sealpost, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/api-keys",
    headers: auth(BOOTSTRAP_KEY),
    payload: body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

function plain(user: string, pass: string): string {
  return `AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString("base64")}`;
}

test("PLAIN and LOGIN with the same key; the username is ignored unless it is a key id", async (t) => {
  const { app, ports } = await smtpApp(t);
  const k = await newKey(app, { scopes: ["messages:send"] });
  for (const method of ["PLAIN", "LOGIN"] as const)
    for (const user of ["api", k.id]) {
      const info = await transport(ports.smtp, user, k.key, method).sendMail(mail);
      assert.match(info.response, QUEUED, `${method} as ${user}`);
    }
  const other = await newKey(app, { scopes: ["messages:send"] });
  await assert.rejects(
    transport(ports.smtp, other.id, k.key, "LOGIN").sendMail(mail),
    (err: { responseCode?: number }) => err.responseCode === 535,
    "a key id that is not the token's",
  );
  const reader = await newKey(app, { scopes: ["messages:read"] });
  await assert.rejects(
    transport(ports.smtp, "api", reader.key, "PLAIN").sendMail(mail),
    (err: { responseCode?: number }) => err.responseCode === 535,
    "a key without messages:send",
  );
  const smtpless = await newKey(app, { scopes: ["messages:send"], auth_methods: ["bearer"] });
  await assert.rejects(
    transport(ports.smtp, "api", smtpless.key, "PLAIN").sendMail(mail),
    (err: { responseCode?: number }) => err.responseCode === 535,
    "a key that may not use SMTP",
  );
});

test("a revocation takes effect at the next MAIL FROM of an open session", async (t) => {
  const { app, ports } = await smtpApp(t);
  const k = await newKey(app, { scopes: ["messages:send"] });
  const { conn } = await rawSession(ports.smtp, { key: k.key });
  t.after(() => conn.destroy());
  assert.equal((await command(conn, "MAIL FROM:<clinic@example.com>")).code, 250);
  assert.equal((await command(conn, "RSET")).code, 250);
  const del = await app.api.inject({
    method: "DELETE",
    url: `/v1/api-keys/${k.id}`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(del.statusCode, 204);
  const refused = await command(conn, "MAIL FROM:<clinic@example.com>");
  assert.equal(refused.code, 535, line(refused));
  assert.match(refused.text, /^5\.7\.8 /);
});

test("MAIL FROM charges the rate limit (451 4.7.0) and applies the key's sender domains (550 5.7.1)", async (t) => {
  const { app, ports } = await smtpApp(t, { SEALPOST_RATE_LIMIT_ORG: "off" });
  const limited = await newKey(app, { scopes: ["messages:send"], rate_limit: "3/h" });
  const { conn } = await rawSession(ports.smtp, { key: limited.key });
  t.after(() => conn.destroy());
  let accepted = 0;
  let refused: { code: number; text: string } | undefined;
  for (let i = 0; i < 5 && refused === undefined; i++) {
    const r = await command(conn, "MAIL FROM:<clinic@example.com>");
    if (r.code === 250) {
      accepted++;
      assert.equal((await command(conn, "RSET")).code, 250);
    } else refused = r;
  }
  assert.ok(refused, "the bucket runs dry");
  assert.equal(refused.code, 451, line(refused));
  assert.match(refused.text, /^4\.7\.0 /);
  assert.ok(accepted >= 2 && accepted <= 3, `messages before the limit: ${accepted}`);

  const restricted = await newKey(app, { scopes: ["messages:send"], sender_domains: ["clinic.example"] });
  const s = await rawSession(ports.smtp, { key: restricted.key });
  t.after(() => s.conn.destroy());
  const other = await command(s.conn, "MAIL FROM:<clinic@example.com>");
  assert.equal(other.code, 550, line(other));
  assert.match(other.text, /^5\.7\.1 /);
  assert.equal((await command(s.conn, "MAIL FROM:<desk@clinic.example>")).code, 250);
});

test("a locked-out address gets 454 4.7.0, even with a correct key", async (t) => {
  const { app, ports } = await smtpApp(t, { SEALPOST_AUTH_MAX_FAILURES: "3" });
  const k = await newKey(app, { scopes: ["messages:send"] });
  const wrong = `${k.key.slice(0, -1)}${k.key.endsWith("A") ? "B" : "A"}`;
  const first = await rawSession(ports.smtp);
  t.after(() => first.conn.destroy());
  for (let i = 0; i < 2; i++) assert.equal((await command(first.conn, plain("api", wrong))).code, 535);
  const second = await rawSession(ports.smtp);
  t.after(() => second.conn.destroy());
  assert.equal((await command(second.conn, plain("api", wrong))).code, 535, "the 3rd failure locks");
  const locked = await command(second.conn, plain("api", k.key));
  assert.equal(locked.code, 454, line(locked));
  assert.match(locked.text, /^4\.7\.0 /);
  const http = await app.api.inject({
    url: "/v1/messages",
    headers: auth(BOOTSTRAP_KEY),
    remoteAddress: "127.0.0.1",
  });
  assert.equal(http.statusCode, 429, "the same lock on HTTP");
});
