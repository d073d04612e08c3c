/**
 * Shared set-up of the SMTP submission tests: a test app listening for SMTP (optionally
 * relaying live mail to a TLS receiving sink), and a raw session for protocol-level checks.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { type ParsedMail, simpleParser } from "mailparser";
import { startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";
import { RawSmtp, type Reply } from "../reliability-harness/lib/raw-smtp.ts";

export async function smtpApp(t: TestContext, env: Record<string, string> = {}) {
  const ctx = await startTestApp(t, { env: { SEALPOST_SMTP_PORT: "0", SEALPOST_SMTPS_PORT: "0", ...env } });
  const ports = await ctx.app.listenSmtp();
  return { ...ctx, ports };
}

/** An app whose live mail is relayed to a receiving server that offers STARTTLS. */
export async function relayedApp(t: TestContext) {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const ctx = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    deliveryCa: (await testCertificate()).cert,
  });
  const ports = await ctx.app.listenSmtp();
  return { ...ctx, ports, sink };
}

/** The `n`th message the sink received (1-based), after checking it came over TLS. */
export async function received(sink: SmtpSink, n = 1): Promise<ParsedMail> {
  await sink.waitFor(n, 15_000);
  const got = sink.messages[n - 1];
  assert.ok(got, "message received");
  assert.equal(got.secure, true, "delivered over TLS");
  assert.match(got.tlsProtocol ?? "", /^TLSv1\.[23]$/);
  return simpleParser(got.raw);
}

export const QUEUED = /^250 2\.0\.0 queued as (msg_[0-9a-z]{26})$/;

/** Sends a command line and reads its reply ("closed" / "timeout" fail the test). */
export async function command(conn: RawSmtp, line: string | null, timeoutMs = 5000): Promise<Reply> {
  if (line !== null) conn.write(`${line}\r\n`);
  const r = await conn.read(timeoutMs);
  assert.ok(typeof r !== "string", `no reply to ${line ?? "(read)"}: ${r}`);
  return r;
}

export function line(r: Reply): string {
  return `${r.code} ${r.text}`;
}

/**
 * A raw session: greeting, EHLO, STARTTLS (on the 587-style port) and EHLO again, then
 * AUTH PLAIN with `key` when given. Returns the session and the EHLO reply in TLS.
 */
export async function rawSession(
  port: number,
  opts: { implicitTls?: boolean; key?: string } = {},
): Promise<{ conn: RawSmtp; ehlo: Reply }> {
  const implicitTls = opts.implicitTls === true;
  const conn = await RawSmtp.open(port, implicitTls, 5000);
  assert.ok(conn !== "refused", "connection accepted");
  assert.equal((await command(conn, null)).code, 220);
  let ehlo = await command(conn, "EHLO client.example");
  if (!implicitTls) {
    assert.equal((await command(conn, "STARTTLS")).code, 220);
    assert.ok(await conn.startTls(5000), "TLS handshake");
    ehlo = await command(conn, "EHLO client.example");
  }
  assert.equal(ehlo.code, 250);
  if (opts.key !== undefined) {
    const auth = await command(conn, `AUTH PLAIN ${Buffer.from(`\0api\0${opts.key}`).toString("base64")}`);
    assert.equal(auth.code, 235, line(auth));
  }
  return { conn, ehlo };
}
