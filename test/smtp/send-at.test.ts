/**
 * `X-Sealpost-Send-At` on SMTP submission: the REST API's `send_at` (ADR 0004) carried in a
 * header, read and stripped by the translation, checked by the one validator and refused
 * with the registry's SMTP reply when it is not a usable time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import nodemailer from "nodemailer";
import { ManualClock } from "../../src/core/clock.ts";
import { ERRORS } from "../../src/core/errors.ts";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { command, line, QUEUED, rawSession } from "./setup.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function transport(port: number, pass: string) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    requireTLS: true,
    auth: { user: "api", pass },
    tls: { rejectUnauthorized: false },
  });
}

/** An SMTP-listening app on a fake clock (the worker polls with real timers). */
async function scheduledApp(t: Parameters<typeof startTestApp>[0]) {
  const clock = new ManualClock(Date.now());
  const ctx = await startTestApp(t, { clock });
  return { ...ctx, clock, ports: await ctx.app.listenSmtp() };
}

const mail = {
  from: "Clinic <clinic@example.com>",
  to: "patient@example.org",
  subject: "Appointment reminder",
  text: "Your appointment is tomorrow.",
};

test("X-Sealpost-Send-At holds an SMTP message until then; the header is not passed on", async (t) => {
  const { app, adminKey, ports, clock } = await scheduledApp(t);
  const sendAt = Math.floor((clock.now() + 2 * HOUR) / 1000) * 1000;
  // An offset other than Z is the same instant.
  const local = new Date(sendAt + 2 * HOUR).toISOString().replace(/\.\d{3}Z$/, "+02:00");
  const info = await transport(ports.smtp, adminKey).sendMail({
    ...mail,
    headers: { "X-Sealpost-Sandbox": "true", "X-Sealpost-Send-At": local, "X-Clinic-Ref": "A-1" },
  });
  const id = QUEUED.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const get = async () =>
    (await app.api.inject({ url: `/v1/messages/${id}?include=content`, headers: auth(adminKey) })).json();
  const held = await get();
  assert.equal(held.status, "scheduled");
  assert.equal(held.send_at, new Date(sendAt).toISOString());
  assert.deepEqual(held.content.headers, { "X-Clinic-Ref": "A-1" });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal((await get()).status, "scheduled", "not sent before its time");

  clock.set(sendAt + 1000);
  const sent = await eventually(async () => {
    const m = await get();
    return m.status === "delivered" ? m : undefined;
  });
  const captured = (
    await app.api.inject({ url: `/v1/sandbox/messages/${sent.deliveries[0].id}`, headers: auth(adminKey) })
  ).json();
  assert.doesNotMatch(Buffer.from(captured.raw, "base64").toString(), /X-Sealpost-/i);
});

test("a bad X-Sealpost-Send-At is refused after DATA with the registry's reply; nothing is stored", async (t) => {
  const { app, adminKey, ports, clock } = await scheduledApp(t);
  const iso = (ms: number) => new Date(ms).toISOString();
  const cases: [string | string[], keyof typeof ERRORS][] = [
    ["tomorrow at nine", "invalid_value"],
    ["2026-01-31T09:00:00", "invalid_value"], // no offset: ambiguous
    ["2026-02-30T09:00:00Z", "invalid_value"],
    [iso(clock.now() - 5 * 60_000), "send_at_in_past"],
    [iso(clock.now() + 31 * DAY), "send_at_too_far"],
    [[iso(clock.now() + HOUR), iso(clock.now() + 2 * HOUR)], "invalid_type"], // two headers
  ];
  for (const [value, code] of cases) {
    const [registered, enhanced] = ERRORS[code].smtp;
    // After DATA only RFC 5321's codes: a registry 501/504 is answered 554 (same enhanced code).
    const reply = [450, 451, 452, 550, 552, 554].includes(registered) ? registered : 554;
    const headers = (Array.isArray(value) ? value : [value]).map((v) => ({
      key: "X-Sealpost-Send-At",
      value: v,
    }));
    await assert.rejects(
      transport(ports.smtp, adminKey).sendMail({ ...mail, text: "Jane Doe 078-05-1120", headers }),
      (err: { responseCode?: number; response?: string; command?: string }) => {
        assert.equal(err.command, "DATA", String(value));
        assert.equal(err.responseCode, reply, String(value));
        assert.ok(err.response?.startsWith(`${reply} ${enhanced} `), err.response);
        assert.match(err.response ?? "", /\(send_at\)$/);
        assert.doesNotMatch(err.response ?? "", /078-05|tomorrow|20\d\d-/, "no value is echoed");
        return true;
      },
    );
  }
  const list = (await app.api.inject({ url: "/v1/messages", headers: auth(adminKey) })).json();
  assert.equal(list.data.length, 0);
});

test("a folded X-Sealpost-Send-At is unfolded before it is read", async (t) => {
  const { app, adminKey, ports, clock } = await scheduledApp(t);
  const sendAt = new Date(Math.floor((clock.now() + DAY) / 1000) * 1000).toISOString();
  const { conn } = await rawSession(ports.smtps, { implicitTls: true, key: adminKey });
  assert.match(line(await command(conn, "MAIL FROM:<clinic@example.com>")), /^250 /);
  assert.match(line(await command(conn, "RCPT TO:<p@example.org>")), /^250 /);
  assert.equal((await command(conn, "DATA")).code, 354);
  conn.write(
    [
      "From: clinic@example.com",
      "To: p@example.org",
      "Subject: folded",
      "X-Sealpost-Sandbox: true",
      // Folded at the space RFC 3339 allows between date and time.
      `X-Sealpost-Send-At: ${sendAt.slice(0, 10)}`,
      ` ${sendAt.slice(11)}`,
      "",
      "Hello.",
      ".",
      "",
    ].join("\r\n"),
  );
  const queued = QUEUED.exec(line(await command(conn, null, 15_000)));
  assert.ok(queued);
  conn.destroy();
  const m = (await app.api.inject({ url: `/v1/messages/${queued[1]}`, headers: auth(adminKey) })).json();
  assert.equal(m.status, "scheduled");
  assert.equal(m.send_at, sendAt);
});
