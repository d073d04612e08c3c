import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import nodemailer from "nodemailer";
import { auth, eventually } from "../helpers/app.ts";
import { requireTool } from "../helpers/tools.ts";
import { QUEUED, received, relayedApp, smtpApp } from "./setup.ts";

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

const PDF = "%PDF-1.7 lab results";

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
  const id = QUEUED.exec(info.response)?.[1];
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

test("nodemailer on 587 (STARTTLS): a live message reaches the receiving server over TLS intact", async (t) => {
  const { adminKey, ports, sink } = await relayedApp(t);
  const info = await transport(ports.smtp, adminKey).sendMail({
    from: "Clinic <clinic@example.com>",
    to: "Pat <pat@example.org>",
    subject: "Lab results — Grüße",
    text: "Your results are ready. Grüße aus der Praxis.",
    html: "<p>Your results are <b>ready</b>.</p>",
    attachments: [{ filename: "results.pdf", content: PDF, contentType: "application/pdf" }],
    headers: { "X-Sealpost-Tags": "lab", "X-Clinic-Ref": "C-10" },
  });
  const id = QUEUED.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const got = await received(sink);
  assert.equal(got.subject, "Lab results — Grüße");
  assert.equal(got.text?.trim(), "Your results are ready. Grüße aus der Praxis.");
  assert.equal(got.html, "<p>Your results are <b>ready</b>.</p>");
  assert.equal(got.attachments[0]?.filename, "results.pdf");
  assert.equal(got.attachments[0]?.content.toString(), PDF);
  assert.equal(got.headers.get("x-clinic-ref"), "C-10");
  assert.equal(got.headers.get("x-sealpost-tags"), undefined, "option headers are stripped");
  assert.equal(got.messageId, `<${id}@example.com>`);
});

test("nodemailer on 465 (implicit TLS): a live message reaches the receiving server over TLS intact", async (t) => {
  const { adminKey, ports, sink } = await relayedApp(t);
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
      subject: "Implicit TLS",
      text: "Sent over port 465.",
      attachments: [{ filename: "note.txt", content: "attached over 465" }],
    });
  assert.match(info.response, QUEUED);
  const got = await received(sink);
  assert.equal(got.subject, "Implicit TLS");
  assert.equal(got.text?.trim(), "Sent over port 465.");
  assert.equal(got.attachments[0]?.content.toString(), "attached over 465");
});

test("swaks submits with -tls and AUTH PLAIN; the message reaches the receiving server over TLS", async (t) => {
  if (!requireTool(t, "swaks")) return;
  const { adminKey, ports, sink } = await relayedApp(t);
  // Asynchronous: the server under test runs in this process.
  const run = await promisify(execFile)(
    "swaks",
    [
      "--server",
      `127.0.0.1:${ports.smtp}`,
      "-tls",
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
      "Subject: From swaks",
      "--body",
      "hello from swaks",
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  assert.match(run.stdout, /<~ {1,2}250 2\.0\.0 queued as msg_[0-9a-z]{26}\r?\n/);
  const got = await received(sink);
  assert.equal(got.subject, "From swaks");
  assert.equal(got.text?.trim(), "hello from swaks");
});

test("AUTH before STARTTLS, a wrong key and bad options are refused with the right codes", async (t) => {
  const { adminKey, ports, key } = await smtpApp(t);
  const mail = { from: "c@example.com", to: "p@example.org", subject: "s", text: "t" };
  await assert.rejects(
    transport(ports.smtp, adminKey, { requireTLS: false, ignoreTLS: true }).sendMail(mail),
    (err: { responseCode?: number; response?: string }) =>
      err.responseCode === 538 && /^538 5\.7\.0 /.test(err.response ?? ""),
  );
  await assert.rejects(
    transport(ports.smtp, "sp_live_wrongwrongwrongwrongwrongwrong").sendMail(mail),
    (err: { responseCode?: number; response?: string }) =>
      err.responseCode === 535 && /^535 5\.7\.8 /.test(err.response ?? ""),
  );
  const readOnly = await key(["messages:read"]);
  await assert.rejects(
    transport(ports.smtp, readOnly).sendMail(mail),
    (err: { responseCode?: number }) => err.responseCode === 535,
  );
  await assert.rejects(
    transport(ports.smtp, adminKey).sendMail({
      ...mail,
      text: "Jane Doe SSN 078-05-1120",
      headers: { "X-Sealpost-Encryption": "rot13" },
    }),
    (err: { responseCode?: number; response?: string }) =>
      // After DATA only the codes RFC 5321 lists: the registry's 501 becomes 554, same enhanced code.
      err.responseCode === 554 &&
      /^554 5\.5\.4 .*encryption/.test(err.response ?? "") &&
      !/078-05/.test(err.response ?? ""),
  );
  // Past the recipient limit, RCPT gets 452 4.5.3 (the client may send the rest later).
  const many = await transport(ports.smtp, adminKey).sendMail({
    ...mail,
    to: Array.from({ length: 101 }, (_, i) => `p${i}@example.org`),
    headers: { "X-Sealpost-Sandbox": "true" },
  });
  assert.equal(many.accepted.length, 100);
  assert.deepEqual(many.rejected, ["p100@example.org"]);
});

test("MAIL FROM outside the org's verified domains: 550 5.7.1 for a live key, accepted for a test key", async (t) => {
  const { adminKey, ports, key } = await smtpApp(t);
  const mail = { from: "someone@elsewhere.example", to: "p@example.org", subject: "s", text: "t" };
  await assert.rejects(
    transport(ports.smtp, adminKey).sendMail(mail),
    (err: { responseCode?: number; response?: string; command?: string }) =>
      err.responseCode === 550 && /^550 5\.7\.1 /.test(err.response ?? "") && err.command === "MAIL FROM",
  );
  // The envelope sender is checked, not only the From header.
  await assert.rejects(
    transport(ports.smtp, adminKey).sendMail({
      ...mail,
      from: "clinic@example.com",
      envelope: { from: "bounces@elsewhere.example", to: "p@example.org" },
    }),
    (err: { response?: string; command?: string }) =>
      /^550 5\.7\.1 /.test(err.response ?? "") && err.command === "MAIL FROM",
  );
  // A verified envelope with an unverified From header is refused after DATA, same code.
  await assert.rejects(
    transport(ports.smtp, adminKey).sendMail({
      ...mail,
      envelope: { from: "clinic@example.com", to: "p@example.org" },
    }),
    (err: { response?: string; command?: string }) =>
      /^550 5\.7\.1 /.test(err.response ?? "") && err.command === "DATA",
  );
  // Test-mode keys run in the sandbox and may use any domain, as on the REST path.
  const testKey = await key(["messages:send"], "test");
  const info = await transport(ports.smtp, testKey).sendMail(mail);
  assert.match(info.response, QUEUED);
});
