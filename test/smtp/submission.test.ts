import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import nodemailer from "nodemailer";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { requireTool } from "../helpers/tools.ts";

async function smtpApp(t: import("node:test").TestContext) {
  const ctx = await startTestApp(t, { env: { SEALPOST_SMTP_PORT: "0", SEALPOST_SMTPS_PORT: "0" } });
  const ports = await ctx.app.listenSmtp();
  return { ...ctx, ports };
}

function transport(port: number, pass: string, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    requireTLS: true,
    auth: { user: "api", pass },
    tls: { rejectUnauthorized: false },
    ...extra,
  });
}

test("nodemailer submits over 587 with STARTTLS; the message enters the same pipeline", async (t) => {
  const { app, adminKey, ports } = await smtpApp(t);
  const info = await transport(ports.smtp, adminKey).sendMail({
    from: "Clinic <clinic@example.com>",
    to: "Pat <pat@example.org>",
    bcc: "records@example.org",
    subject: "Lab results",
    text: "Your results are ready.",
    attachments: [{ filename: "r.txt", content: "result body" }],
    headers: { "X-Sealpost-Sandbox": "true", "X-Sealpost-Tags": "lab, results", "X-Clinic-Ref": "C-9" },
  });
  const id = /^250 2\.[06]\.0 queued as (msg_[0-9a-z]{26})$/.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    return body.status === "delivered" ? body : undefined;
  });
  assert.equal(msg.mode, "test");
  assert.deepEqual(msg.tags, ["lab", "results"]);
  assert.deepEqual(
    msg.deliveries.map((d: { to: string; kind: string }) => [d.to, d.kind]),
    [
      ["pat@example.org", "to"],
      ["records@example.org", "bcc"],
    ],
  );
  const captured = (
    await app.api.inject({ url: `/v1/sandbox/messages/${msg.deliveries[0].id}`, headers: auth(adminKey) })
  ).json();
  assert.equal(captured.subject, "Lab results");
  assert.equal(captured.headers["x-clinic-ref"], "C-9");
  const raw = Buffer.from(captured.raw, "base64").toString();
  assert.doesNotMatch(raw, /X-Sealpost-/i, "option headers are stripped");
  assert.doesNotMatch(raw, /records@example\.org/, "Bcc is not written");
  assert.equal(captured.attachments[0].filename, "r.txt");
});

test("port 465 speaks TLS from the first byte", async (t) => {
  const { adminKey, ports } = await smtpApp(t);
  const info = await nodemailer
    .createTransport({
      host: "127.0.0.1",
      port: ports.smtps,
      secure: true,
      auth: { user: "k", pass: adminKey },
      tls: { rejectUnauthorized: false },
    })
    .sendMail({
      from: "clinic@example.com",
      to: "p@example.org",
      subject: "s",
      text: "t",
      headers: { "X-Sealpost-Sandbox": "true" },
    });
  assert.match(info.response, /^250 2\.[06]\.0 queued as msg_/);
});

test("AUTH before STARTTLS, a wrong key and bad options are refused with the right codes", async (t) => {
  const { adminKey, ports, key } = await smtpApp(t);
  await assert.rejects(
    transport(ports.smtp, adminKey, { requireTLS: false, ignoreTLS: true }).sendMail({
      from: "c@example.com",
      to: "p@example.org",
      subject: "s",
      text: "t",
    }),
    (err: { responseCode?: number }) => err.responseCode === 538 || err.responseCode === 530,
  );
  await assert.rejects(
    transport(ports.smtp, "sp_live_wrongwrongwrongwrongwrongwrong").sendMail({
      from: "c@example.com",
      to: "p@example.org",
      subject: "s",
      text: "t",
    }),
    (err: { responseCode?: number; response?: string }) =>
      err.responseCode === 535 && /5\.7\.8/.test(err.response ?? ""),
  );
  const readOnly = await key(["messages:read"]);
  await assert.rejects(
    transport(ports.smtp, readOnly).sendMail({
      from: "c@example.com",
      to: "p@example.org",
      subject: "s",
      text: "t",
    }),
    (err: { responseCode?: number }) => err.responseCode === 535,
  );
  await assert.rejects(
    transport(ports.smtp, adminKey).sendMail({
      from: "c@example.com",
      to: "p@example.org",
      subject: "s",
      text: "Jane Doe SSN 078-05-1120",
      headers: { "X-Sealpost-Encryption": "smime" },
    }),
    (err: { responseCode?: number; response?: string }) =>
      err.responseCode === 504 && /encryption/.test(err.response ?? "") && !/078-05/.test(err.response ?? ""),
  );
  // Past the recipient limit, RCPT gets 452 (the client may send the rest later).
  const many = await transport(ports.smtp, adminKey).sendMail({
    from: "c@example.com",
    to: Array.from({ length: 101 }, (_, i) => `p${i}@example.org`),
    subject: "s",
    text: "t",
    headers: { "X-Sealpost-Sandbox": "true" },
  });
  assert.equal(many.accepted.length, 100);
  assert.deepEqual(many.rejected, ["p100@example.org"]);
});

test("swaks submits with AUTH PLAIN over STARTTLS", async (t) => {
  if (!requireTool(t, "swaks")) return;
  const { adminKey, ports } = await smtpApp(t);
  // Asynchronous: the server under test runs in this process.
  const run = await promisify(execFile)(
    "swaks",
    [
      "--server",
      `127.0.0.1:${ports.smtp}`,
      "--tls",
      "--auth",
      "PLAIN",
      "--auth-user",
      "api",
      "--auth-password",
      adminKey,
      "--from",
      "clinic@example.com",
      "--to",
      "p@example.org",
      "--header",
      "X-Sealpost-Sandbox: true",
      "--body",
      "hello",
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  assert.match(run.stdout, /250 2\.[06]\.0 queued as msg_/);
});
