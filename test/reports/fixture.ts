/**
 * The seeded period of test/reports/compliance.test.ts: five weeks of messages on a fake
 * clock (the last week the period, with a spike on its third day), the evidence some
 * deliveries are given afterwards with what each should count as, and the audit entries.
 */
import { type AuditSeed, DAY, type MessageSpec } from "./seed.ts";

export const T0 = Date.UTC(2026, 2, 1); // day 0: 2026-03-01, the org's creation day
export const FROM = T0 + 28 * DAY; // 2026-03-29
export const TO = T0 + 35 * DAY; // 2026-04-05
export const HOUR = 3_600_000;

export type Named = MessageSpec & { name: string; hour: number };

/** The period's messages. M1 is sent at exactly `from`. */
export const PERIOD: Named[] = [
  { name: "M1", day: 28, hour: 0, to: ["a1@example.org"] },
  { name: "M2", day: 28, hour: 9, encryption: "tls", to: ["a2@example.org"], cc: ["a3@example.org"] },
  { name: "M3", day: 29, hour: 9, to: ["a4@example.org"] },
  {
    name: "M4",
    day: 29,
    hour: 10,
    to: ["a5@example.org"],
    cc: ["a6@example.org"],
    bcc: ["a7@example.org"],
  },
  { name: "M5", day: 29, hour: 11, sandbox: true, to: ["a8@example.org"] },
  // The spike: seven messages on day 30 (2026-03-31).
  ...[6, 7, 8, 9, 10].map((n) => ({ name: `M${n}`, day: 30, hour: n, to: [`b${n}@example.org`] })),
  // M11 and M12 at the same instant: paging breaks the tie by id.
  ...[11, 12].map((n) => ({
    name: `M${n}`,
    day: 30,
    hour: 11,
    encryption: "tls" as const,
    to: [`b${n}@example.org`],
  })),
  { name: "M13", day: 32, hour: 9, to: ["gone@example.org"] },
  { name: "M14", day: 32, hour: 10, encryption: "tls", sendAtDay: 33, to: ["later@example.org"] },
];

/** Days 0-27: one message on even days, two on odd ones (sandbox), the baseline. */
export function history(): Named[] {
  const out: Named[] = [];
  for (let day = 0; day < 28; day++)
    for (let i = 0; i < 1 + (day % 2); i++)
      out.push({ name: `H${day}.${i}`, day, hour: 2 + i, sandbox: true, to: [`h${day}-${i}@example.org`] });
  return out;
}

export interface Expect {
  status: string;
  reason?: string;
  /** Delivered over SMTP: what the TLS and certificate sections count. */
  tls?: { version: string; cipher?: string; cert?: "verified" | "unverified"; certError?: string };
  sandbox?: true;
  /** Attempted over SMTP: the MTA-STS section. */
  mta?: "enforce" | "testing" | "none" | "no_policy" | "not_applied";
  mismatch?: true;
  policyError?: true;
}

export const MX = { mx_host: "mx.example.org", ip: "192.0.2.25", port: 25 };

/** Evidence the worker writes (worker/steps.ts evidenceJson), put on some deliveries. */
export const OVERRIDES: {
  message: string;
  kind?: "bcc";
  evidence: object;
  expect: Expect;
  due_at?: number;
}[] = [
  {
    message: "M6",
    evidence: {
      ...MX,
      tls_version: "TLSv1.2",
      cipher: "ECDHE-RSA-AES256-GCM-SHA384",
      cert_verified: false,
      cert_error: "DEPTH_ZERO_SELF_SIGNED_CERT",
      reply_code: 250,
      enhanced_code: "2.0.0",
      reply: "OK",
      mta_sts: { mode: "testing", policy_id: "p1", mx_mismatch: ["mx.example.org"], error: null },
    },
    expect: {
      status: "delivered",
      tls: {
        version: "TLSv1.2",
        cipher: "ECDHE-RSA-AES256-GCM-SHA384",
        cert: "unverified",
        certError: "DEPTH_ZERO_SELF_SIGNED_CERT",
      },
      mta: "testing",
      mismatch: true,
    },
  },
  {
    message: "M7",
    evidence: {
      ...MX,
      tls_version: "TLSv1.3",
      cipher: "TLS_AES_128_GCM_SHA256",
      cert_verified: true,
      cert_error: null,
      reply_code: 250,
      mta_sts: { mode: "enforce", policy_id: "p2", mx_mismatch: [], error: null },
    },
    expect: {
      status: "delivered",
      tls: { version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", cert: "verified" },
      mta: "enforce",
    },
  },
  {
    message: "M8",
    evidence: {
      ...MX,
      tls_version: "TLSv1.3",
      cipher: "TLS_AES_256_GCM_SHA384",
      cert_verified: true,
      cert_error: null,
      reply_code: 550,
      enhanced_code: "5.1.1",
      reply: "No such user",
      mta_sts: { mode: null, policy_id: null, mx_mismatch: [], error: null },
      reason: "rejected_permanent",
    },
    expect: { status: "bounced", reason: "rejected_permanent", mta: "no_policy" },
  },
  {
    message: "M9",
    evidence: {
      ...MX,
      tls_version: null,
      cipher: null,
      cert_verified: false,
      cert_error: null,
      reason: "tls_unavailable",
      gave_up: true,
    },
    expect: { status: "failed", reason: "tls_unavailable", mta: "not_applied" },
  },
  {
    message: "M10",
    due_at: T0 + 100 * DAY,
    evidence: {
      ...MX,
      tls_version: "TLSv1.3",
      cipher: "TLS_AES_256_GCM_SHA384",
      cert_verified: true,
      cert_error: null,
      reply_code: 451,
      mta_sts: { mode: "none", policy_id: "p3", mx_mismatch: [], error: "policy_fetch_failed:timeout" },
      reason: "rejected_temporary",
      retry_at: "2026-07-09T00:00:00.000Z",
    },
    expect: { status: "deferred", reason: "rejected_temporary", mta: "none", policyError: true },
  },
  {
    message: "M11",
    evidence: {
      mta_sts: { mode: "enforce", policy_id: "p4", mx_mismatch: ["mx1.example.org"], error: null },
      reason: "mta_sts_no_valid_mx",
      gave_up: true,
    },
    expect: { status: "failed", reason: "mta_sts_no_valid_mx", mta: "enforce", mismatch: true },
  },
  {
    // Sent with allow_non_tls to a server without STARTTLS.
    message: "M12",
    evidence: {
      ...MX,
      tls_version: null,
      cipher: null,
      cert_verified: false,
      cert_error: null,
      reply_code: 250,
    },
    expect: { status: "delivered", tls: { version: "none" }, mta: "not_applied" },
  },
  {
    // A value that is not a plain token is counted as `other`, never copied.
    message: "M4",
    kind: "bcc",
    evidence: {
      ...MX,
      tls_version: "TLSv1.3",
      cipher: "<b>x, y</b>",
      cert_verified: true,
      cert_error: null,
      reply_code: 250,
    },
    expect: {
      status: "delivered",
      tls: { version: "TLSv1.3", cipher: "other", cert: "verified" },
      mta: "not_applied",
    },
  },
];

export function auditSeeds(org: string, other: string): AuditSeed[] {
  const at = (day: number, hour = 12) => T0 + day * DAY + hour * HOUR;
  const many = (n: number, s: AuditSeed) => Array.from({ length: n }, (_, i) => ({ ...s, at: s.at + i }));
  return [
    // Policy violations: 8 in the period.
    ...many(2, {
      chain: org,
      at: at(29),
      action: "http.request",
      outcome: "sender_not_allowed",
      status: 403,
    }),
    { chain: org, at: at(29), action: "http.request", outcome: "domain_not_verified", status: 422 },
    { chain: org, at: at(30), action: "smtp.message", outcome: "domain_not_verified", status: 550 },
    { chain: org, at: at(30), action: "http.request", outcome: "forbidden", status: 403 },
    { chain: org, at: at(31), action: "smtp.auth", outcome: "ip_not_allowed", status: 535 },
    ...many(2, { chain: org, at: at(33), action: "http.request", outcome: "rate_limited", status: 429 }),
    // Not violations: a malformed request, successes, and one a millisecond before the period.
    { chain: org, at: at(30), action: "http.request", outcome: "invalid_address", status: 422 },
    ...many(3, { chain: org, at: at(30), action: "http.request", outcome: "ok", status: 202 }),
    { chain: org, at: FROM - 1, action: "http.request", outcome: "sender_not_allowed", status: 403 },
    // Failed authentications: 4 over HTTP, 3 over SMTP.
    ...many(2, { chain: org, at: at(28), action: "http.request", outcome: "key_revoked", status: 401 }),
    { chain: org, at: at(31), action: "http.request", outcome: "signature_mismatch", status: 401 },
    { chain: org, at: at(31), action: "http.request", outcome: "auth_locked", status: 429 },
    ...many(3, { chain: org, at: at(32), action: "smtp.auth", outcome: "unauthorized", status: 535 }),
    // Not this org's, or outside the period (`to` is excluded).
    ...many(5, {
      chain: "instance",
      at: at(30),
      action: "http.request",
      outcome: "unauthorized",
      status: 401,
    }),
    ...many(2, { chain: other, at: at(30), action: "http.request", outcome: "key_revoked", status: 401 }),
    { chain: org, at: TO, action: "http.request", outcome: "unauthorized", status: 401 },
    // Keys.
    ...many(2, { chain: org, at: at(29), action: "key.create", outcome: "ok" }),
    { chain: org, at: at(30), action: "key.rotate", outcome: "ok" },
    { chain: org, at: at(31), action: "key.revoke", outcome: "ok" },
    { chain: org, at: at(31), action: "key.create", outcome: "forbidden" },
    { chain: other, at: at(31), action: "key.create", outcome: "ok" },
    { chain: org, at: at(27), action: "key.revoke", outcome: "ok" },
    // Retention purges: two runs in the period.
    {
      chain: org,
      at: at(29, 3),
      action: "retention.purge",
      outcome: "ok",
      details: { messages: 10, deliveries: 20, shredded: 10, message_ids: ["msg_a", "msg_b"] },
    },
    {
      chain: org,
      at: at(33, 3),
      action: "retention.purge",
      outcome: "ok",
      details: { messages: 5, deliveries: 5, deleted: 3 },
    },
    { chain: org, at: at(20, 3), action: "retention.purge", outcome: "ok", details: { messages: 99 } },
    { chain: other, at: at(30, 3), action: "retention.purge", outcome: "ok", details: { messages: 77 } },
  ];
}
