import assert from "node:assert/strict";
import { test } from "node:test";
import { RawSmtp } from "../reliability-harness/lib/raw-smtp.ts";
import { command, line, QUEUED, rawSession, smtpApp } from "./setup.ts";

const LIMIT = 65_536;

function body(subject: string, padBytes = 0): string {
  const pad = `${"x".repeat(76)}\r\n`.repeat(Math.ceil(padBytes / 78));
  return [
    "From: clinic@example.com",
    "To: p@example.org",
    `Subject: ${subject}`,
    "X-Sealpost-Sandbox: true",
    "",
    "Hello.",
    pad,
    ".",
    "",
  ].join("\r\n");
}

test("EHLO in TLS advertises SIZE, 8BITMIME, SMTPUTF8, PIPELINING, ENHANCEDSTATUSCODES and AUTH", async (t) => {
  const { ports } = await smtpApp(t, { SEALPOST_MAX_MESSAGE_BYTES: String(LIMIT) });
  for (const implicitTls of [false, true]) {
    const { conn, ehlo } = await rawSession(implicitTls ? ports.smtps : ports.smtp, { implicitTls });
    const features = ehlo.text.split("\n").slice(1);
    for (const f of ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"])
      assert.ok(features.includes(f), `${f} in ${features}`);
    assert.ok(features.includes(`SIZE ${LIMIT}`), `SIZE ${LIMIT} in ${features}`);
    for (const f of ["DSN", "REQUIRETLS", "STARTTLS"])
      assert.ok(!features.includes(f), `${f} not advertised`);
    conn.destroy();
  }
});

test("over-size: SIZE= above the limit gets 552 5.3.4 at MAIL FROM, a longer DATA gets 552 5.3.4 and the session goes on", async (t) => {
  const { adminKey, ports } = await smtpApp(t, { SEALPOST_MAX_MESSAGE_BYTES: String(LIMIT) });
  const { conn } = await rawSession(ports.smtp, { key: adminKey });
  const declared = await command(conn, `MAIL FROM:<clinic@example.com> SIZE=${LIMIT + 1}`);
  assert.match(line(declared), /^552 5\.3\.4 /);
  // Without SIZE=, the limit is enforced on the data itself.
  assert.match(line(await command(conn, "MAIL FROM:<clinic@example.com>")), /^250 2\.1\.0 /);
  assert.match(line(await command(conn, "RCPT TO:<p@example.org>")), /^250 2\.1\.5 /);
  assert.equal((await command(conn, "DATA")).code, 354);
  conn.write(body("too big", LIMIT * 2));
  assert.match(line(await command(conn, null, 15_000)), /^552 5\.3\.4 /);
  // The session is still usable: a message within the limit is accepted, QUIT closes cleanly.
  assert.match(line(await command(conn, "MAIL FROM:<clinic@example.com>")), /^250 /);
  assert.match(line(await command(conn, "RCPT TO:<p@example.org>")), /^250 /);
  assert.equal((await command(conn, "DATA")).code, 354);
  conn.write(body("fits", LIMIT / 4));
  assert.match(line(await command(conn, null, 15_000)), QUEUED);
  assert.match(line(await command(conn, "QUIT")), /^221 /);
  assert.equal(await conn.read(2000), "closed");
});

test("MAIL FROM: a live key needs a verified domain (a null sender has none); replies never echo the address", async (t) => {
  const { adminKey, ports } = await smtpApp(t);
  const { conn } = await rawSession(ports.smtps, { implicitTls: true, key: adminKey });
  const foreign = await command(conn, "MAIL FROM:<pat@unverified.example>");
  assert.match(line(foreign), /^550 5\.7\.1 /);
  assert.doesNotMatch(foreign.text, /unverified|pat@/);
  assert.match(line(await command(conn, "MAIL FROM:<>")), /^550 5\.7\.1 /);
  assert.match(line(await command(conn, "MAIL FROM:<Clinic@EXAMPLE.com>")), /^250 /);
  conn.destroy();
});

test("RCPT TO: an address the submit path would refuse gets 553 5.1.3 at RCPT, not a 554 after DATA", async (t) => {
  const { adminKey, ports } = await smtpApp(t);
  const { conn } = await rawSession(ports.smtps, { implicitTls: true, key: adminKey });
  assert.match(line(await command(conn, "MAIL FROM:<clinic@example.com>")), /^250 /);
  for (const bad of ["pat@localhost", "pat@[127.0.0.1]"]) {
    const reply = await command(conn, `RCPT TO:<${bad}>`);
    assert.match(line(reply), /^553 5\.1\.3 /, bad);
    assert.doesNotMatch(reply.text, /pat@/, "the address is not echoed");
  }
  assert.match(line(await command(conn, "RCPT TO:<p@example.org>")), /^250 2\.1\.5 /);
  conn.destroy();
});

test("three failed AUTH attempts end the session with 421 4.7.0", async (t) => {
  const { ports } = await smtpApp(t);
  const { conn } = await rawSession(ports.smtp);
  const bad = `AUTH PLAIN ${Buffer.from("\0api\0sp_live_wrongwrongwrongwrongwrongwrong").toString("base64")}`;
  assert.match(line(await command(conn, bad)), /^535 5\.7\.8 /);
  assert.match(line(await command(conn, bad)), /^535 5\.7\.8 /);
  assert.match(line(await command(conn, bad)), /^421 4\.7\.0 /);
  assert.equal(await conn.read(2000), "closed");
});

test("connection limit: a client over SEALPOST_SMTP_MAX_CLIENTS gets 421 and is disconnected", async (t) => {
  const { ports } = await smtpApp(t, { SEALPOST_SMTP_MAX_CLIENTS: "2" });
  const open: RawSmtp[] = [];
  t.after(() => {
    for (const c of open) c.destroy();
  });
  for (let i = 0; i < 2; i++) {
    const c = await RawSmtp.open(ports.smtp, false, 5000);
    assert.ok(c !== "refused");
    open.push(c);
    assert.equal((await command(c, null)).code, 220);
  }
  const third = await RawSmtp.open(ports.smtp, false, 5000);
  assert.ok(third !== "refused");
  open.push(third);
  assert.match(line(await command(third, null)), /^421 .*Too many connected clients/);
  assert.equal(await third.read(2000), "closed");
  // The limit is per session, not per lifetime: once one leaves, a new client is served.
  open[0]?.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const next = await RawSmtp.open(ports.smtp, false, 5000);
  assert.ok(next !== "refused");
  open.push(next);
  assert.equal((await command(next, null)).code, 220);
});

test("an idle session is answered 421 and closed after SEALPOST_SMTP_TIMEOUT_SECONDS", async (t) => {
  const { ports } = await smtpApp(t, { SEALPOST_SMTP_TIMEOUT_SECONDS: "1" });
  const { conn } = await rawSession(ports.smtps, { implicitTls: true });
  const started = Date.now();
  const r = await command(conn, null, 5000);
  assert.equal(r.code, 421);
  assert.ok(Date.now() - started >= 800, "not before the timeout");
  assert.equal(await conn.read(2000), "closed");
});

test("shutdown: idle sessions get 421 4.3.2 at once; a message in DATA is still accepted, then 421", async (t) => {
  const ctx = await smtpApp(t);
  const idle = (await rawSession(ctx.ports.smtp, { key: ctx.adminKey })).conn;
  const { conn: busy } = await rawSession(ctx.ports.smtps, { implicitTls: true, key: ctx.adminKey });
  assert.match(line(await command(busy, "MAIL FROM:<clinic@example.com>")), /^250 /);
  assert.match(line(await command(busy, "RCPT TO:<p@example.org>")), /^250 /);
  assert.equal((await command(busy, "DATA")).code, 354);
  busy.write("From: clinic@example.com\r\nTo: p@example.org\r\nSubject: in flight\r\n");

  const started = Date.now();
  const closing = ctx.close();
  assert.match(line(await command(idle, null)), /^421 4\.3\.2 /);
  assert.equal(await idle.read(2000), "closed");
  assert.ok(Date.now() - started < 5000, "idle sessions are not kept until the grace period ends");
  assert.equal(await RawSmtp.open(ctx.ports.smtp, false, 2000), "refused", "no new connections");

  busy.write("X-Sealpost-Sandbox: true\r\n\r\nStill accepted.\r\n.\r\n");
  assert.match(line(await command(busy, null, 10_000)), QUEUED);
  assert.match(line(await command(busy, null)), /^421 4\.3\.2 /);
  assert.equal(await busy.read(2000), "closed");
  await closing;
});
