/**
 * `GET/PUT /v1/policy` (ADR 0010 §1): every field with its default; any subset changes;
 * bad values are coded 422s naming the field that change nothing; PHI in the notice
 * wording is refused; a change is audited (field names and settings, never the texts);
 * each org has its own policy; admin keys only.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOrg } from "../../src/core/orgs.ts";
import { auth, startTestApp, type TestApp } from "../helpers/app.ts";
import { auditRows } from "../retention/fixtures.ts";

const DEFAULTS = {
  object: "policy",
  subject_phi: "reject",
  force_mode: null,
  portal: "allow",
  require_verified_certs: false,
  allow_non_tls: false,
  portal_link_days: 14,
  portal_code_attempts: 5,
  portal_lock_minutes: 15,
  notice_from_name: "Secure message",
  notice_subject: "You have a secure message",
  notice_text:
    "You have received a secure message. To read it, open the link below and confirm your " +
    "email address with a one-time code that we will send you.",
  track_opens: false,
};

function put(t: TestApp, payload: unknown, token = t.adminKey) {
  return t.app.api.inject({
    method: "PUT",
    url: "/v1/policy",
    headers: { ...auth(token), "content-type": "application/json" },
    payload: JSON.stringify(payload),
  });
}

async function current(t: TestApp, token = t.adminKey) {
  const res = await t.app.api.inject({ url: "/v1/policy", headers: auth(token) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

test("policy: defaults, changes of any subset, the audit entry without texts, per org", async (t) => {
  const app = await startTestApp(t, { worker: false });
  assert.deepEqual(await current(app), DEFAULTS);

  const first = await put(app, { subject_phi: "redact", force_mode: "portal", portal_link_days: 30 });
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json(), {
    ...DEFAULTS,
    subject_phi: "redact",
    force_mode: "portal",
    portal_link_days: 30,
  });
  const wording = {
    notice_from_name: "Northside Clinic",
    notice_subject: "A secure message from your clinic",
    notice_text: "Open the link below to read it.\nThe link expires in 30 days.",
  };
  const second = await put(app, {
    ...wording,
    force_mode: null,
    portal: "forbid",
    require_verified_certs: true,
    allow_non_tls: true,
    portal_code_attempts: 20,
    portal_lock_minutes: 1440,
  });
  assert.equal(second.statusCode, 200, second.body);
  const expected = {
    ...DEFAULTS,
    ...wording,
    subject_phi: "redact",
    force_mode: null,
    portal: "forbid",
    require_verified_certs: true,
    allow_non_tls: true,
    portal_link_days: 30,
    portal_code_attempts: 20,
    portal_lock_minutes: 1440,
  };
  assert.deepEqual(second.json(), expected);
  assert.deepEqual(await current(app), expected);

  // Another org's policy is its own, and changing it leaves this one alone.
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const other = await app.key(["admin"], "live", orgB.id);
  assert.deepEqual(await current(app, other), DEFAULTS);
  assert.equal((await put(app, { portal_link_days: 1 }, other)).statusCode, 200);
  assert.equal((await current(app)).portal_link_days, 30);
  assert.equal((await current(app, other)).portal_link_days, 1);
  // Only admin keys.
  const sender = await app.key(["messages:send", "messages:read", "audit:read"]);
  assert.equal((await put(app, { portal: "allow" }, sender)).statusCode, 403);
  assert.equal((await app.app.api.inject({ url: "/v1/policy", headers: auth(sender) })).statusCode, 403);

  const entries = await auditRows(app.app, app.app.defaultOrgId, "policy.update");
  assert.deepEqual(
    entries.map((e) => JSON.parse(e.details)),
    [
      {
        fields: ["force_mode", "portal_link_days", "subject_phi"],
        subject_phi: "redact",
        force_mode: "portal",
        portal_link_days: 30,
      },
      {
        fields: [
          "allow_non_tls",
          "force_mode",
          "notice_from_name",
          "notice_subject",
          "notice_text",
          "portal",
          "portal_code_attempts",
          "portal_lock_minutes",
          "require_verified_certs",
        ],
        force_mode: null,
        portal: "forbid",
        require_verified_certs: true,
        allow_non_tls: true,
        portal_code_attempts: 20,
        portal_lock_minutes: 1440,
      },
    ],
  );
  assert.ok(entries.every((e) => e.actor_type === "key" && e.target_type === "org" && e.outcome === "ok"));
  assert.ok(entries.every((e) => e.target_id === app.app.defaultOrgId && e.request_id !== null));
  for (const e of entries) assert.doesNotMatch(e.details, /Northside|clinic|expires/);
  assert.equal((await auditRows(app.app, orgB.id, "policy.update")).length, 1);
});

test("bad policy changes are coded 422s naming the field and change nothing", async (t) => {
  const app = await startTestApp(t, { worker: false });
  assert.equal((await put(app, { portal_link_days: 20 })).statusCode, 200);
  const cases: [unknown, string, string | undefined][] = [
    [{}, "missing_field", undefined],
    [null, "missing_field", undefined],
    [[1], "invalid_type", undefined],
    [{ subject_phi: "drop" }, "invalid_value", "subject_phi"],
    [{ subject_phi: null }, "invalid_value", "subject_phi"],
    [{ force_mode: "auto" }, "invalid_value", "force_mode"],
    [{ force_mode: "TLS" }, "invalid_value", "force_mode"],
    [{ portal: true }, "invalid_value", "portal"],
    [{ require_verified_certs: "true" }, "invalid_type", "require_verified_certs"],
    [{ allow_non_tls: 1 }, "invalid_type", "allow_non_tls"],
    [{ portal_link_days: 0 }, "invalid_value", "portal_link_days"],
    [{ portal_link_days: 91 }, "invalid_value", "portal_link_days"],
    [{ portal_link_days: 1.5 }, "invalid_type", "portal_link_days"],
    [{ portal_link_days: "14" }, "invalid_type", "portal_link_days"],
    [{ portal_code_attempts: 21 }, "invalid_value", "portal_code_attempts"],
    [{ portal_code_attempts: -1 }, "invalid_value", "portal_code_attempts"],
    [{ portal_lock_minutes: 1441 }, "invalid_value", "portal_lock_minutes"],
    [{ notice_from_name: "" }, "invalid_value", "notice_from_name"],
    [{ notice_from_name: "   " }, "invalid_value", "notice_from_name"],
    [{ notice_from_name: "x".repeat(201) }, "invalid_value", "notice_from_name"],
    [{ notice_from_name: "Clinic\r\nBcc: someone@example.org" }, "header_injection", "notice_from_name"],
    [{ notice_subject: "Hello\nthere" }, "header_injection", "notice_subject"],
    [{ notice_subject: 5 }, "invalid_type", "notice_subject"],
    [{ notice_subject: "bell\u0007" }, "invalid_value", "notice_subject"],
    [{ notice_text: "x".repeat(2001) }, "invalid_value", "notice_text"],
    [{ notice_text: "nul\u0000" }, "invalid_value", "notice_text"],
    [{ portal_days: 5 }, "unknown_field", "portal_days"],
    [{ object: "policy", portal: "allow" }, "unknown_field", "object"],
    // A valid field does not carry an invalid one through.
    [{ portal: "forbid", portal_lock_minutes: 0 }, "invalid_value", "portal_lock_minutes"],
  ];
  for (const [payload, code, field] of cases) {
    const res = await put(app, payload);
    assert.equal(res.statusCode, 422, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().code, code, JSON.stringify(payload));
    if (field !== undefined) assert.equal(res.json().field, field, JSON.stringify(payload));
    assert.doesNotMatch(res.body, /someone@example\.org/);
  }
  const malformed = await app.app.api.inject({
    method: "PUT",
    url: "/v1/policy",
    headers: { ...auth(app.adminKey), "content-type": "application/json" },
    payload: "{",
  });
  assert.equal(malformed.statusCode, 400);
  assert.deepEqual(await current(app), { ...DEFAULTS, portal_link_days: 20 });
  assert.equal((await auditRows(app.app, app.app.defaultOrgId, "policy.update")).length, 1);
});

test("PHI in the notice wording is refused with phi_in_policy, without echoing it", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const cases: [string, string][] = [
    ["notice_subject", "Results for patient, SSN 078-05-1120"],
    ["notice_from_name", "Clinic DOB 04/12/1961"],
    ["notice_text", "Dear patient (SSN 078-05-1120), your results are ready."],
  ];
  for (const [field, value] of cases) {
    const res = await put(app, { [field]: value });
    assert.equal(res.statusCode, 422, `${field}: ${res.body}`);
    assert.equal(res.json().code, "phi_in_policy", field);
    assert.equal(res.json().field, field);
    assert.doesNotMatch(res.body, /078-05|1961/);
  }
  assert.deepEqual(await current(app), DEFAULTS);
  assert.equal((await auditRows(app.app, app.app.defaultOrgId, "policy.update")).length, 0);
});
