/**
 * The submit step "phi" (ADR 0010 §2) through the real REST and Paubox-compatible routes:
 * PHI in a subject is refused (422 phi_in_subject) or redacted by org policy, for live and
 * test keys and batch items alike; the stored summary holds counts only; allow_non_tls is
 * honoured only when asked for, allowed, and the message has no PHI and no attachment; the
 * compliance report counts it all. No finding's value appears in an answer or the audit log.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { auth, startTestApp, type TestApp } from "../helpers/app.ts";
import { tokenAuth } from "../helpers/paubox-sdk.ts";

const SSN = "078-05-1120";
const DOB = "04/12/1961";
const VALUES = /078-05|1120|04\/12|1961/;
const base = { from: "clinic@example.com", to: "pat@example.org", sandbox: true };

async function send(t: TestApp, body: object, token = t.adminKey) {
  return t.app.api.inject({ method: "POST", url: "/v1/messages", headers: auth(token), payload: body });
}

async function setPolicy(t: TestApp, change: object) {
  const res = await t.app.api.inject({
    method: "PUT",
    url: "/v1/policy",
    headers: auth(t.adminKey),
    payload: change,
  });
  assert.equal(res.statusCode, 200, res.body);
}

async function stored(t: TestApp, id: string) {
  const res = await t.app.api.inject({
    url: `/v1/messages/${id}?include=content`,
    headers: auth(t.adminKey),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function auditText(t: TestApp): Promise<string> {
  await t.app.audit.flush();
  const rows = await t.app.db.kysely.selectFrom("audit_log").select("details").execute();
  return rows.map((r) => r.details).join("\n");
}

test("PHI in a subject is refused by default, on REST, for test keys, in batches and on the Paubox route", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const subject = `Results for SSN ${SSN}`;
  const live = await send(app, { ...base, subject, text: "See attached." });
  assert.equal(live.statusCode, 422, live.body);
  assert.equal(live.json().code, "phi_in_subject");
  assert.equal(live.json().field, "subject");
  assert.doesNotMatch(live.body, VALUES);

  const testKey = await app.key(["messages:send"], "test");
  const viaTest = await send(app, { ...base, subject: `DOB ${DOB}`, text: "t" }, testKey);
  assert.equal(viaTest.statusCode, 422, viaTest.body);
  assert.equal(viaTest.json().code, "phi_in_subject");

  const batch = await app.app.api.inject({
    method: "POST",
    url: "/v1/messages/batch",
    headers: auth(app.adminKey),
    payload: {
      messages: [
        { ...base, subject, text: "t" },
        { ...base, subject: "Results ready", text: "t" },
      ],
    },
  });
  assert.equal(batch.statusCode, 200, batch.body);
  assert.doesNotMatch(batch.body, VALUES);
  const [refused, accepted] = batch.json().data;
  assert.equal(refused.status, 422);
  assert.equal(refused.error.code, "phi_in_subject");
  assert.equal(refused.error.field, "subject");
  assert.equal(accepted.status, 202);

  const sender = await app.key(["messages:send"]);
  const paubox = await app.app.api.inject({
    method: "POST",
    url: "/v1/clinic_user/messages",
    headers: tokenAuth(sender),
    payload: {
      data: {
        message: {
          recipients: ["pat@example.org"],
          headers: { subject, from: "clinic@example.com" },
          content: { "text/plain": "See attached." },
        },
      },
    },
  });
  assert.equal(paubox.statusCode, 400, paubox.body);
  assert.ok(Array.isArray(paubox.json().errors));
  assert.match(paubox.body, /protected health information/);
  assert.doesNotMatch(paubox.body, VALUES);

  // Nothing was stored for the refused ones, and the audit log holds no value.
  const count = await app.app.db.kysely
    .selectFrom("messages")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  assert.equal(Number(count.n), 1);
  assert.doesNotMatch(await auditText(app), VALUES);
});

test("under subject_phi redact the findings become [redacted]; the summary holds counts only", async (t) => {
  const app = await startTestApp(t, { worker: false });
  await setPolicy(app, { subject_phi: "redact" });
  // The policy applies at once on this thread (the cache was told).
  const res = await send(app, {
    ...base,
    subject: `Results for SSN ${SSN}, ready`,
    text: `Patient DOB ${DOB}.`,
    html: `<html><head><style>p{color:red}</style></head><body><p>SSN ${SSN}</p></body></html>`,
  });
  assert.equal(res.statusCode, 202, res.body);
  assert.doesNotMatch(res.body, VALUES);
  const m = await stored(app, res.json().id);
  assert.doesNotMatch(m.content.subject, VALUES);
  assert.match(m.content.subject, /^Results for .*\[redacted\], ready$/);
  // The body is stored as sent (it travels encrypted or over TLS); only the subject changes.
  assert.match(m.content.text, /04\/12\/1961/);
  assert.equal(m.phi.subject, 1);
  assert.equal(m.phi.body, 2);
  assert.deepEqual(m.phi.categories, { ssn: 2, dob: 1 });
  assert.equal(m.allow_non_tls_honoured, false);
  const { phi } = await app.app.db.kysely
    .selectFrom("messages")
    .select("phi")
    .where("id", "=", m.id)
    .executeTakeFirstOrThrow();
  assert.doesNotMatch(phi ?? "", VALUES);

  // Test keys take the same step.
  const testKey = await app.key(["messages:send"], "test");
  const viaTest = await send(app, { ...base, subject: `DOB ${DOB}`, text: "t" }, testKey);
  assert.equal(viaTest.statusCode, 202, viaTest.body);
  assert.equal((await stored(app, viaTest.json().id)).content.subject.includes("1961"), false);

  // A message without PHI has no summary.
  const clean = await send(app, { ...base, subject: "Your results are ready", text: "Log in to read them." });
  assert.equal(clean.statusCode, 202, clean.body);
  assert.equal((await stored(app, clean.json().id)).phi, null);
  assert.doesNotMatch(await auditText(app), VALUES);
});

test("allow_non_tls is honoured only when asked for, allowed, and the message has no PHI and no attachment", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const plain = { ...base, subject: "Appointment reminder", text: "See you on Monday." };
  const attachment = [{ filename: "a.txt", content: Buffer.from("hello").toString("base64") }];
  const ids: string[] = [];
  const honoured = async (body: object) => {
    const res = await send(app, body);
    assert.equal(res.statusCode, 202, res.body);
    ids.push(res.json().id);
    return (await stored(app, res.json().id)).allow_non_tls_honoured;
  };
  // The org policy does not allow it by default.
  assert.equal(await honoured({ ...plain, allow_non_tls: true }), false);
  await setPolicy(app, { allow_non_tls: true });
  assert.equal(await honoured({ ...plain, allow_non_tls: true }), true);
  assert.equal(await honoured(plain), false);
  assert.equal(await honoured({ ...plain, allow_non_tls: true, text: `SSN ${SSN}` }), false);
  assert.equal(await honoured({ ...plain, allow_non_tls: true, html: `<p>DOB ${DOB}</p>` }), false);
  assert.equal(await honoured({ ...plain, allow_non_tls: true, attachments: attachment }), false);
  // The stored column is the honoured value, which the worker reads.
  const rows = await app.app.db.kysely.selectFrom("messages").select(["id", "allow_non_tls"]).execute();
  const byId = new Map(rows.map((r) => [r.id, r.allow_non_tls]));
  assert.deepEqual(
    ids.map((id) => byId.get(id)),
    [0, 1, 0, 0, 0, 0],
  );
});

test("the compliance report counts messages with PHI, findings by category, redactions and refusals", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const ok = (res: { statusCode: number; body: string }) => assert.equal(res.statusCode, 202, res.body);
  ok(await send(app, { ...base, subject: "Results", text: `SSN ${SSN}` }));
  ok(await send(app, { ...base, subject: "Results", text: `SSN ${SSN} DOB ${DOB}` }));
  ok(await send(app, { ...base, subject: "Results", text: "nothing here" }));
  assert.equal((await send(app, { ...base, subject: `SSN ${SSN}`, text: "t" })).statusCode, 422);
  await setPolicy(app, { subject_phi: "redact" });
  ok(await send(app, { ...base, subject: `DOB ${DOB}`, text: "t" }));
  await app.app.audit.flush();

  const day = new Date(app.app.clock.now()).toISOString().slice(0, 10);
  const next = new Date(app.app.clock.now() + 86_400_000).toISOString().slice(0, 10);
  const res = await app.app.api.inject({
    url: `/v1/reports/compliance?from=${day}&to=${next}`,
    headers: auth(app.adminKey),
  });
  assert.equal(res.statusCode, 200, res.body);
  const r = res.json();
  assert.equal(r.phi_detections.available, true);
  assert.equal(r.phi_detections.count, 3);
  assert.equal(r.phi_detections.findings, 4);
  assert.deepEqual(r.phi_detections.by_category, {
    ssn: 2,
    mrn: 0,
    dob: 2,
    phone: 0,
    icd10: 0,
    npi: 0,
    address: 0,
    marked: 0,
  });
  assert.equal(r.phi_detections.subject_redacted, 1);
  assert.equal(r.phi_detections.subject_rejected, 1);
  assert.equal(r.policy_violations.by_code.phi_in_subject, 1);
  assert.doesNotMatch(res.body, VALUES);
});
