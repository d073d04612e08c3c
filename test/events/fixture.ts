/**
 * A known mix of sends through a real in-process sealpost on the suite's store, on a
 * manual clock, to real SMTP sinks on loopback (ADR 0011 §2, §4 tests): what the events
 * API and the stats must then report exactly.
 *
 * Hour 10:00–11:00 (clock at 10:30): `ok1@tls.example` delivered (tag a); `ok2@tls.example`
 * delivered and `bounce.pat@tls.example` bounced by a 550 whose text echoes the address
 * (tags a, b); `blocked@tls.example` suppressed at submit.
 * Hour 11:00–12:00 (clock at 11:15): `later@tls.example` deferred by a 451 (tag b); a
 * scheduled message cancelled; `pat@plain.example` (no STARTTLS) delivered as a portal
 * notice (tag a).
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";

export const HOUR = 3_600_000;
export const PHASE1 = Date.UTC(2026, 2, 10, 10, 30);
export const PHASE2 = Date.UTC(2026, 2, 10, 11, 15);

export interface Mix {
  t: TestApp;
  clock: ManualClock;
  tlsSink: SmtpSink;
  /** Message ids in send order: m1 ok1, m2 ok2+bounce, m4 suppressed, m3 deferred, m5 cancelled, m6 portal. */
  ids: { m1: string; m2: string; m3: string; m4: string; m5: string; m6: string };
  /** The TLS version the TLS sink negotiated. */
  tlsVersion: string;
}

type Json = Record<string, unknown>;

export async function get(
  t: TestApp,
  url: string,
  key = t.adminKey,
): Promise<{ status: number; body: Json }> {
  const res = await t.app.api.inject({ url, headers: auth(key) });
  return { status: res.statusCode, body: res.json() as Json };
}

async function send(t: TestApp, payload: Json): Promise<string> {
  const res = await t.app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(t.adminKey),
    payload: { from: "clinic@example.com", subject: "Reminder", text: "See you soon.", ...payload },
  });
  assert.equal(res.statusCode, 202, res.body);
  return (res.json() as { id: string }).id;
}

/** Waits until every delivery of the message has one of the given statuses. */
async function settled(t: TestApp, id: string, statuses: readonly string[]): Promise<void> {
  await eventually(async () => {
    const { body } = await get(t, `/v1/messages/${id}`);
    const ds = body.deliveries as { status: string }[];
    return ds.every((d) => statuses.includes(d.status)) ? true : undefined;
  });
}

export async function sendMix(ctx: TestContext): Promise<Mix> {
  const tlsSink = await startSmtpSink({
    rejectRcpt: (a) => (a.startsWith("bounce") ? 550 : a.startsWith("later") ? 451 : null),
  });
  const plainSink = await startSmtpSink({ starttls: false });
  ctx.after(() => Promise.all([tlsSink.close(), plainSink.close()]));
  const clock = new ManualClock(PHASE1);
  const t = await startTestApp(ctx, {
    clock,
    env: {
      SEALPOST_TRANSPORT_MAP: [
        `tls.example=smtp://127.0.0.1:${tlsSink.port}`,
        `plain.example=smtp://127.0.0.1:${plainSink.port}`,
      ].join(","),
      SEALPOST_DNS_SERVERS: "127.0.0.1:9",
      // A deferral is not retried within the test's hours.
      SEALPOST_RETRY_SCHEDULE: "20h",
      SEALPOST_PUBLIC_URL: "https://sealpost.test",
    },
    deliveryCa: (await testCertificate()).cert,
  });
  const sup = await t.app.api.inject({
    method: "POST",
    url: "/v1/suppressions",
    headers: auth(t.adminKey),
    payload: { address: "blocked@tls.example" },
  });
  assert.equal(sup.statusCode, 201, sup.body);

  const m1 = await send(t, { to: "ok1@tls.example", tags: ["a"] });
  const m2 = await send(t, { to: ["ok2@tls.example", "bounce.pat@tls.example"], tags: ["a", "b"] });
  const m4 = await send(t, { to: "blocked@tls.example" });
  await settled(t, m1, ["delivered"]);
  await settled(t, m2, ["delivered", "bounced"]);

  clock.set(PHASE2);
  const m3 = await send(t, { to: "later@tls.example", tags: ["b"] });
  const m5 = await send(t, { to: "ok3@tls.example", send_at: new Date(PHASE2 + 24 * HOUR).toISOString() });
  const cancel = await t.app.api.inject({
    method: "POST",
    url: `/v1/messages/${m5}/cancel`,
    headers: auth(t.adminKey),
  });
  assert.equal(cancel.statusCode, 200, cancel.body);
  const m6 = await send(t, { to: "pat@plain.example", tags: ["a"] });
  await settled(t, m3, ["deferred"]);
  await settled(t, m6, ["delivered"]);
  const tlsVersion = tlsSink.messages[0]?.tlsProtocol ?? "";
  assert.match(tlsVersion, /^TLSv1\.[23]$/);
  return { t, clock, tlsSink, ids: { m1, m2, m3, m4, m5, m6 }, tlsVersion };
}
