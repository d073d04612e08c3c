/**
 * The compliance report (ADR 0009 §5) for a seeded period equals counts computed here from
 * the seed (fixture.ts): messages sent through the API on a fake clock over five weeks,
 * delivered through the real worker to a TLS relay or the sandbox, some deliveries then given
 * other realistic evidence; audit entries and legal holds inserted directly, with look-alikes
 * outside the period, in another org and in the instance chain.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { tallyEvidence } from "../../src/reports/evidence.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import {
  auditSeeds,
  type Expect,
  FROM,
  HOUR,
  history,
  type Named,
  OVERRIDES,
  PERIOD,
  T0,
  TO,
} from "./fixture.ts";
import {
  CANARY_SUBJECT,
  DAY,
  deliveriesOfMessage,
  insertAudit,
  insertHold,
  keepContent,
  otherOrg,
  recipientsOf,
  send,
  setDelivery,
  settled,
} from "./seed.ts";

function inc(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

test("the compliance report of a seeded period matches counts computed from the seed", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const clock = new ManualClock(T0 + HOUR / 2);
  const { app, adminKey, key } = await startTestApp(t, {
    clock,
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    deliveryCa: (await testCertificate()).cert,
  });
  const orgId = app.defaultOrgId;
  await keepContent(app, orgId);
  const other = await otherOrg(app, key);
  await keepContent(app, other.id);

  const at = (m: Named) => T0 + m.day * DAY + m.hour * HOUR;
  for (const m of history()) {
    clock.set(at(m));
    await send(app, adminKey, m, T0);
  }
  const ids = new Map<string, string>();
  for (const m of PERIOD) {
    clock.set(at(m));
    if (m.name === "M13") {
      const s = await app.api.inject({
        method: "POST",
        url: "/v1/suppressions",
        headers: auth(adminKey),
        payload: { address: "gone@example.org" },
      });
      assert.equal(s.statusCode, 201, s.body);
    }
    ids.set(m.name, (await send(app, adminKey, m, T0)).id);
    if (m.name === "M14") {
      const c = await app.api.inject({
        method: "POST",
        url: `/v1/messages/${ids.get("M14")}/cancel`,
        headers: auth(adminKey),
      });
      assert.equal(c.statusCode, 200, c.body);
    }
  }
  // Another org's messages in the period, and one of ours at `to` (excluded).
  clock.set(T0 + 29 * DAY + 15 * HOUR);
  for (const n of [1, 2])
    await send(
      app,
      other.token,
      { day: 29, from: "clinic@other.example", sandbox: true, to: [`o${n}@example.org`] },
      T0,
    );
  clock.set(TO);
  await send(app, adminKey, { day: 35, to: ["late@example.org"] }, T0);
  await settled(app);

  // Real relay deliveries: their evidence, as the API shows it.
  const m1 = (await app.api.inject({ url: `/v1/messages/${ids.get("M1")}`, headers: auth(adminKey) })).json();
  assert.equal(m1.status, "delivered");
  const real = m1.deliveries[0].evidence;
  assert.match(real.tls_version, /^TLSv1\.[23]$/);

  for (const o of OVERRIDES) {
    const rows = await deliveriesOfMessage(app, ids.get(o.message) ?? "");
    const row = o.kind === undefined ? rows[0] : rows.find((r) => r.kind === o.kind);
    assert.ok(row);
    assert.equal(row.status, "delivered", `${o.message} was delivered before its evidence is replaced`);
    await setDelivery(app, row.id, {
      status: o.expect.status as "delivered",
      last_reason: o.expect.reason ?? null,
      evidence: o.evidence,
      ...(o.due_at === undefined ? {} : { due_at: o.due_at }),
    });
  }
  await insertAudit(app, auditSeeds(orgId, other.id));
  const holds: [number, "message" | "recipient" | "org", number, number | null, string?][] = [
    [1, "message", 10, null],
    [2, "message", 10, 30],
    [3, "message", 29, 31],
    [4, "message", 29, null],
    [5, "recipient", 30, null],
    [6, "org", 31, null],
    [7, "recipient", 20, 40],
    [8, "message", 29, null, other.id],
    [9, "message", 35, null],
  ];
  for (const [n, kind, created, released, org] of holds)
    await insertHold(app, {
      n,
      org_id: org ?? orgId,
      kind,
      created_at: T0 + created * DAY,
      released_at: released === null ? null : T0 + released * DAY,
    });

  // What the report should say, from the seed.
  const expectMessages = {
    total: 0,
    by_mode: { live: 0, test: 0 },
    by_encryption: {} as Record<string, number>,
  };
  const expectRecipients = { total: 0, by_encryption: {} as Record<string, number> };
  const expected: Expect[] = [];
  for (const m of PERIOD) {
    const enc = m.encryption ?? "auto";
    expectMessages.total++;
    expectMessages.by_mode[m.sandbox === true ? "test" : "live"]++;
    inc(expectMessages.by_encryption, enc);
    expectRecipients.total += recipientsOf(m);
    inc(expectRecipients.by_encryption, enc, recipientsOf(m));
    const overridden = OVERRIDES.filter((o) => o.message === m.name);
    for (let i = overridden.length; i < recipientsOf(m); i++)
      expected.push(
        m.sandbox === true
          ? { status: "delivered", sandbox: true }
          : m.name === "M13"
            ? { status: "suppressed", reason: "suppressed" }
            : m.name === "M14"
              ? { status: "cancelled", reason: "cancelled" }
              : {
                  status: "delivered",
                  tls: {
                    version: real.tls_version,
                    cipher: real.cipher,
                    cert: real.cert_verified === true ? "verified" : "unverified",
                    ...(real.cert_verified === true ? {} : { certError: real.cert_error ?? "unknown" }),
                  },
                  mta: "not_applied",
                },
      );
    for (const o of overridden) expected.push(o.expect);
  }
  const byStatus: Record<string, number> = {};
  const byReason: Record<string, number> = {};
  const versions: Record<string, number> = {};
  const ciphers: Record<string, number> = {};
  const certErrors: Record<string, number> = {};
  const cert = { verified: 0, unverified: 0 };
  const mta = { enforce: 0, testing: 0, none: 0, no_policy: 0, not_applied: 0 };
  let attempted = 0;
  let mismatches = 0;
  let policyErrors = 0;
  for (const e of expected) {
    inc(byStatus, e.status);
    if (e.reason !== undefined) inc(byReason, e.reason);
    if (e.tls !== undefined) {
      inc(versions, e.tls.version);
      if (e.tls.cipher !== undefined) inc(ciphers, e.tls.cipher);
      if (e.tls.cert !== undefined) cert[e.tls.cert]++;
      if (e.tls.certError !== undefined) inc(certErrors, e.tls.certError);
    }
    if (e.mta !== undefined) {
      attempted++;
      mta[e.mta]++;
    }
    if (e.mismatch) mismatches++;
    if (e.policyError) policyErrors++;
  }

  clock.set(TO + 2 * DAY);
  const res = await app.api.inject({
    url: "/v1/reports/compliance?from=2026-03-29&to=2026-04-05",
    headers: auth(adminKey),
  });
  assert.equal(res.statusCode, 200, res.body);
  const r = res.json();

  assert.equal(r.object, "compliance_report");
  assert.equal(r.version, 1);
  assert.deepEqual(r.org, { id: orgId, name: "default" });
  assert.deepEqual(r.period, { from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() });

  assert.equal(r.messages.total, expectMessages.total);
  assert.deepEqual(r.messages.by_mode, expectMessages.by_mode);
  assert.deepEqual(r.messages.by_encryption, {
    portal: 0,
    smime: 0,
    pgp: 0,
    ...expectMessages.by_encryption,
  });
  assert.equal(r.recipients.total, expectRecipients.total);
  assert.deepEqual(r.recipients.by_encryption, {
    portal: 0,
    smime: 0,
    pgp: 0,
    ...expectRecipients.by_encryption,
  });
  const zeroStatuses = [
    "scheduled",
    "queued",
    "sending",
    "deferred",
    "delivered",
    "bounced",
    "failed",
    "suppressed",
  ];
  assert.deepEqual(r.delivery_outcomes.by_status, {
    ...Object.fromEntries([...zeroStatuses, "cancelled"].map((s) => [s, 0])),
    ...byStatus,
  });
  assert.deepEqual(r.delivery_outcomes.by_reason, byReason);

  assert.equal(r.tls.delivered_over_smtp, expected.filter((e) => e.tls !== undefined).length);
  assert.equal(r.tls.delivered_to_sandbox, expected.filter((e) => e.sandbox).length);
  assert.deepEqual(r.tls.versions, versions);
  assert.deepEqual(r.tls.ciphers, ciphers);
  assert.deepEqual(r.certificates, { ...cert, errors: certErrors });
  assert.deepEqual(r.mta_sts, {
    recipients_attempted: attempted,
    by_mode: mta,
    mx_mismatches: mismatches,
    policy_unavailable: policyErrors,
  });

  assert.deepEqual(r.policy_violations, {
    total: 8,
    by_code: {
      sender_not_allowed: 2,
      domain_not_verified: 2,
      forbidden: 1,
      ip_not_allowed: 1,
      auth_method_not_allowed: 0,
      rate_limited: 2,
      phi_in_subject: 0,
    },
    by_channel: { http: 6, smtp: 2 },
  });
  assert.equal(r.failed_authentications.total, 7);
  assert.deepEqual(r.failed_authentications.by_channel, { http: 4, smtp: 3 });
  assert.equal(r.failed_authentications.by_code.key_revoked, 2);
  assert.equal(r.failed_authentications.by_code.signature_mismatch, 1);
  assert.equal(r.failed_authentications.by_code.auth_locked, 1);
  assert.equal(r.failed_authentications.by_code.unauthorized, 3);
  assert.equal(r.failed_authentications.by_code.key_expired, 0);
  assert.match(r.failed_authentications.note, /instance audit chain/);
  assert.deepEqual(r.keys, { created: 2, rotated: 1, revoked: 1 });
  assert.deepEqual(r.retention, {
    purge_runs: 2,
    purged: { deleted: 3, deliveries: 25, messages: 15, shredded: 10 },
    legal_holds: {
      created: 4,
      created_by_kind: { message: 2, recipient: 1, org: 1 },
      released: 2,
      active_at_end: 5,
    },
  });

  assert.equal(r.recipients_outside_allowed_domains.available, false);
  assert.equal(r.recipients_outside_allowed_domains.count, 0);
  assert.equal(typeof r.recipients_outside_allowed_domains.note, "string");
  // The seed's real deliveries went over TLS; none fell back to the portal
  // (test/pipeline/encryption-policy.test.ts counts real fallbacks).
  assert.deepEqual(r.portal_fallbacks, { available: true, count: 0, by_reason: {} });
  assert.deepEqual(Object.keys(r.protection.by_mode), ["tls"]);
  // The fixture's messages carry no PHI summary (test/policy/phi-step.test.ts counts some).
  assert.equal(r.phi_detections.available, true);
  assert.equal(r.phi_detections.count, 0);
  assert.equal(r.phi_detections.subject_redacted, 0);
  assert.deepEqual(Object.values(r.phi_detections.by_category), [0, 0, 0, 0, 0, 0, 0, 0]);

  // Unusual volume: the spike day only, against a baseline computed here.
  const daily = new Map<number, number>();
  for (const m of [...history(), ...PERIOD]) daily.set(m.day, (daily.get(m.day) ?? 0) + 1);
  const baseline = Array.from({ length: 28 }, (_, i) => daily.get(2 + i) ?? 0); // days 2-29, before day 30
  const mean = baseline.reduce((a, b) => a + b, 0) / 28;
  const sd = Math.sqrt(baseline.reduce((a, b) => a + (b - mean) ** 2, 0) / 28);
  assert.equal(r.unusual_volume.status, "evaluated");
  assert.equal(r.unusual_volume.days_evaluated, 7);
  assert.equal(r.unusual_volume.days_without_history, 0);
  assert.equal(r.unusual_volume.unusual_days.length, 1, JSON.stringify(r.unusual_volume));
  const spike = r.unusual_volume.unusual_days[0];
  assert.equal(spike.date, "2026-03-31");
  assert.equal(spike.messages, 7);
  assert.equal(spike.baseline_days, 28);
  assert.ok(Math.abs(spike.baseline_mean - mean) < 0.01);
  assert.ok(Math.abs(spike.baseline_stddev - sd) < 0.01);
  assert.ok(Math.abs(spike.threshold - (mean + 3 * sd)) < 0.01);

  // Read two messages a page (M11 and M12 share an instant), the evidence counts are the same.
  const paged = await tallyEvidence(systemScope(app.db, orgId, "admin"), { from: FROM, to: TO }, 2);
  assert.deepEqual(paged.sections(), {
    tls: r.tls,
    certificates: r.certificates,
    mta_sts: r.mta_sts,
    protection: r.protection,
    portal_fallbacks: r.portal_fallbacks,
  });

  // Counts, codes and ids only: no address, no subject.
  assert.doesNotMatch(res.body, /@|Canary/);
  assert.doesNotMatch(res.body, new RegExp(CANARY_SUBJECT));

  // The same report as CSV: section,key,value rows carrying the same numbers.
  const csv = await app.api.inject({
    url: "/v1/reports/compliance?from=2026-03-29&to=2026-04-05&format=csv",
    headers: auth(adminKey),
  });
  assert.equal(csv.statusCode, 200, csv.body);
  assert.match(String(csv.headers["content-type"]), /^text\/csv/);
  const lines = csv.body.trimEnd().split("\r\n");
  assert.equal(lines[0], "section,key,value");
  const rows = new Set(lines.slice(1));
  for (const row of [
    `report,org_id,${orgId}`,
    "report,from,2026-03-29T00:00:00.000Z",
    `messages,total,${expectMessages.total}`,
    `messages,by_mode.test,${expectMessages.by_mode.test}`,
    `recipients,total,${expectRecipients.total}`,
    "tls,versions.TLSv1.2,1",
    "tls,ciphers.other,1",
    "certificates,errors.DEPTH_ZERO_SELF_SIGNED_CERT,1",
    "mta_sts,by_mode.enforce,2",
    "policy_violations,by_code.rate_limited,2",
    "failed_authentications,by_channel.smtp,3",
    "keys,rotated,1",
    "retention,purged.deliveries,25",
    "retention,legal_holds.active_at_end,5",
    "unusual_volume,unusual_days.2026-03-31.messages,7",
    "unusual_volume,status,evaluated",
    "portal_fallbacks,available,true",
  ])
    assert.ok(rows.has(row), `CSV has ${row}`);
  for (const line of lines.slice(1)) assert.match(line, /^[a-z_]+,[^,]+,("[^"]*"|[^,"]*)$/, line);
  assert.doesNotMatch(csv.body, /@|Canary/);

  // Another org's report sees only its own two messages.
  const theirs = await app.api.inject({
    url: "/v1/reports/compliance?from=2026-03-29&to=2026-04-05",
    headers: auth(other.token),
  });
  assert.equal(theirs.statusCode, 200, theirs.body);
  assert.equal(theirs.json().org.id, other.id);
  assert.equal(theirs.json().messages.total, 2);
  assert.equal(theirs.json().failed_authentications.by_code.key_revoked, 2);
  assert.equal(theirs.json().retention.legal_holds.created, 1);
});
