/**
 * PHI in the subject of a message submitted over SMTP (ADR 0010 §2): refused with
 * `550 5.7.1` after DATA by default, the session going on, the reply echoing nothing of the
 * subject; under `subject_phi: redact` accepted with the findings replaced by `[redacted]`.
 * Real submission sessions against a real sealpost on loopback.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import nodemailer from "nodemailer";
import { auth } from "../helpers/app.ts";
import { command, line, QUEUED, rawSession, smtpApp } from "./setup.ts";

const VALUES = /078-05|1120|04\/12|1961/;

function message(subject: string, text = "Hello."): string {
  return [
    "From: clinic@example.com",
    "To: p@example.org",
    `Subject: ${subject}`,
    "X-Sealpost-Sandbox: true",
    "",
    text,
    ".",
    "",
  ].join("\r\n");
}

test("SMTP: PHI in the subject gets 550 5.7.1 after DATA and the session goes on", async (t) => {
  const { app, adminKey, ports } = await smtpApp(t);
  const { conn } = await rawSession(ports.smtp, { key: adminKey });
  assert.match(line(await command(conn, "MAIL FROM:<clinic@example.com>")), /^250 /);
  assert.match(line(await command(conn, "RCPT TO:<p@example.org>")), /^250 /);
  assert.equal((await command(conn, "DATA")).code, 354);
  conn.write(message("Results for SSN 078-05-1120"));
  const refused = line(await command(conn, null, 15_000));
  assert.match(refused, /^550 5\.7\.1 .*subject/);
  assert.doesNotMatch(refused, VALUES);
  // The same session sends a clean message.
  assert.match(line(await command(conn, "MAIL FROM:<clinic@example.com>")), /^250 /);
  assert.match(line(await command(conn, "RCPT TO:<p@example.org>")), /^250 /);
  assert.equal((await command(conn, "DATA")).code, 354);
  conn.write(message("Your results are ready", "Patient DOB 04/12/1961."));
  const queued = QUEUED.exec(line(await command(conn, null, 15_000)));
  assert.ok(queued, "queued");
  assert.match(line(await command(conn, "QUIT")), /^221 /);
  // PHI in the body is counted, not refused.
  const m = (await app.api.inject({ url: `/v1/messages/${queued[1]}`, headers: auth(adminKey) })).json();
  assert.equal(m.phi.subject, 0);
  assert.equal(m.phi.categories.dob, 1);
  await app.audit.flush();
  const rows = await app.db.kysely.selectFrom("audit_log").select(["action", "outcome", "details"]).execute();
  assert.ok(rows.some((r) => r.action === "smtp.message" && r.outcome === "phi_in_subject"));
  assert.doesNotMatch(rows.map((r) => r.details).join("\n"), VALUES);
});

test("SMTP: under subject_phi redact the message is accepted with the subject redacted", async (t) => {
  const { app, adminKey, ports } = await smtpApp(t);
  const put = await app.api.inject({
    method: "PUT",
    url: "/v1/policy",
    headers: auth(adminKey),
    payload: { subject_phi: "redact" },
  });
  assert.equal(put.statusCode, 200, put.body);
  const info = await nodemailer
    .createTransport({
      host: "127.0.0.1",
      port: ports.smtp,
      requireTLS: true,
      auth: { user: "api", pass: adminKey },
      tls: { rejectUnauthorized: false },
    })
    .sendMail({
      from: "clinic@example.com",
      to: "p@example.org",
      subject: "Results for DOB 04/12/1961 ready",
      text: "Log in to read them.",
      headers: { "X-Sealpost-Sandbox": "true" },
    });
  const id = QUEUED.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const m = (
    await app.api.inject({ url: `/v1/messages/${id}?include=content`, headers: auth(adminKey) })
  ).json();
  assert.match(m.content.subject, /^Results for .*\[redacted\].* ready$/);
  assert.doesNotMatch(m.content.subject, VALUES);
  assert.equal(m.phi.subject, 1);
});
