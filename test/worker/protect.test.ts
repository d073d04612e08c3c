/**
 * Step "protect" as a table (ADR 0010 §4): which plan each combination of requested mode,
 * keys on file, org policy, previous attempt and allow_non_tls gets, and what follows a TLS
 * attempt that could not get TLS.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EncryptionMode } from "../../src/core/message.ts";
import type { FailureReason } from "../../src/delivery/outcome.ts";
import type { RecipientKey } from "../../src/encryption/types.ts";
import { DEFAULT_POLICY, type OrgPolicy } from "../../src/policy/types.ts";
import { afterTlsFailure, chooseProtection, type ProtectInput } from "../../src/worker/protect.ts";

const smime: RecipientKey = { id: "rk_s", kind: "smime", material: "", fingerprint: "aa", notAfter: null };
const pgp: RecipientKey = { id: "rk_p", kind: "pgp", material: "", fingerprint: "bb", notAfter: null };
const forbid: OrgPolicy = { ...DEFAULT_POLICY, portal: "forbid" };
const nonTls: OrgPolicy = { ...DEFAULT_POLICY, allow_non_tls: true };
const forced = (mode: OrgPolicy["force_mode"]): OrgPolicy => ({ ...DEFAULT_POLICY, force_mode: mode });

interface Row {
  name: string;
  requested: EncryptionMode;
  keys?: RecipientKey[];
  policy?: OrgPolicy;
  previous?: ProtectInput["previous"];
  allowNonTls?: boolean;
  /** The plan without its key, plus the key id when there is one. */
  want: Record<string, unknown>;
}

const rows: Row[] = [
  {
    name: "auto + S/MIME key",
    requested: "auto",
    keys: [smime],
    want: { mode: "smime", key: "rk_s", reason: "key_on_file" },
  },
  {
    name: "auto + both keys: S/MIME first",
    requested: "auto",
    keys: [pgp, smime],
    want: { mode: "smime", key: "rk_s", reason: "key_on_file" },
  },
  {
    name: "auto + PGP key",
    requested: "auto",
    keys: [pgp],
    want: { mode: "pgp", key: "rk_p", reason: "key_on_file" },
  },
  {
    name: "auto, no key",
    requested: "auto",
    want: { mode: "tls", portalOnTlsFailure: true, reason: "tls_available" },
  },
  {
    name: "auto, no key, portal forbidden: TLS, a TLS failure then fails",
    requested: "auto",
    policy: forbid,
    want: { mode: "tls", portalOnTlsFailure: true, reason: "tls_available" },
  },
  {
    name: "smime requested, key on file",
    requested: "smime",
    keys: [pgp, smime],
    want: { mode: "smime", key: "rk_s", reason: "requested" },
  },
  {
    name: "smime requested, only a PGP key",
    requested: "smime",
    keys: [pgp],
    want: { fail: "no_recipient_key", mode: "smime", reason: "requested" },
  },
  {
    name: "pgp requested, no key",
    requested: "pgp",
    want: { fail: "no_recipient_key", mode: "pgp", reason: "requested" },
  },
  {
    name: "tls requested: TLS only, even with a key",
    requested: "tls",
    keys: [smime],
    want: { mode: "tls", portalOnTlsFailure: false, reason: "requested" },
  },
  {
    name: "portal requested",
    requested: "portal",
    keys: [smime],
    want: { mode: "portal", reason: "requested" },
  },
  {
    name: "portal requested, portal forbidden",
    requested: "portal",
    policy: forbid,
    want: { fail: "portal_forbidden", mode: "portal", reason: "requested" },
  },
  {
    name: "force_mode tls overrides auto and keys",
    requested: "auto",
    keys: [smime],
    policy: forced("tls"),
    want: { mode: "tls", portalOnTlsFailure: false, reason: "forced_by_policy" },
  },
  {
    name: "force_mode pgp overrides tls",
    requested: "tls",
    keys: [pgp],
    policy: forced("pgp"),
    want: { mode: "pgp", key: "rk_p", reason: "forced_by_policy" },
  },
  {
    name: "force_mode smime without a key",
    requested: "auto",
    policy: forced("smime"),
    want: { fail: "no_recipient_key", mode: "smime", reason: "forced_by_policy" },
  },
  {
    name: "force_mode portal",
    requested: "smime",
    keys: [smime],
    policy: forced("portal"),
    want: { mode: "portal", reason: "forced_by_policy" },
  },
  {
    name: "allow_non_tls honoured, org allows",
    requested: "auto",
    policy: nonTls,
    allowNonTls: true,
    want: { mode: "none", reason: "no_phi_allow_non_tls" },
  },
  {
    name: "allow_non_tls honoured at submit, org no longer allows",
    requested: "auto",
    allowNonTls: true,
    want: { mode: "tls", portalOnTlsFailure: true, reason: "tls_available" },
  },
  {
    name: "allow_non_tls with a key on file: the key wins",
    requested: "auto",
    keys: [smime],
    policy: nonTls,
    allowNonTls: true,
    want: { mode: "smime", key: "rk_s", reason: "key_on_file" },
  },
  {
    name: "allow_non_tls with tls requested: TLS only",
    requested: "tls",
    policy: nonTls,
    allowNonTls: true,
    want: { mode: "tls", portalOnTlsFailure: false, reason: "requested" },
  },
  {
    name: "retry of a portal delivery: the notice again, with its reason",
    requested: "auto",
    keys: [smime],
    previous: { mode: "portal", reason: "tls_unavailable" },
    want: { mode: "portal", reason: "tls_unavailable" },
  },
  {
    name: "retry of a portal delivery, portal now forbidden",
    requested: "auto",
    policy: forbid,
    previous: { mode: "portal", reason: "mta_sts_failed" },
    want: { fail: "portal_forbidden", mode: "portal", reason: "mta_sts_failed" },
  },
  {
    name: "retry of a portal delivery with an unreadable reason",
    requested: "portal",
    previous: { mode: "portal", reason: "<garbage>" },
    want: { mode: "portal", reason: "requested" },
  },
  {
    name: "retry of a TLS delivery: chosen again (a key added since wins)",
    requested: "auto",
    keys: [pgp],
    previous: { mode: "tls", reason: "tls_available" },
    want: { mode: "pgp", key: "rk_p", reason: "key_on_file" },
  },
];

describe("chooseProtection", () => {
  for (const row of rows)
    test(row.name, () => {
      const plan = chooseProtection({
        requested: row.requested,
        keys: row.keys ?? [],
        policy: row.policy ?? DEFAULT_POLICY,
        previous: row.previous ?? null,
        allowNonTls: row.allowNonTls ?? false,
      });
      const shown: Record<string, unknown> = { ...plan };
      if ("key" in plan) shown.key = plan.key.id;
      assert.deepEqual(shown, row.want);
    });
});

describe("afterTlsFailure", () => {
  const refusal = { code: 502, enhanced: "5.5.1", text: "Command not recognized" };
  type Case = [
    FailureReason,
    "refused" | "busy" | "handshake",
    string | null,
    boolean,
    OrgPolicy,
    Record<string, unknown> | null,
  ];
  const cases: Case[] = [
    // STARTTLS refused: the server does not offer TLS; the portal at once.
    [
      "tls_unavailable",
      "refused",
      null,
      false,
      DEFAULT_POLICY,
      { mode: "portal", reason: "tls_unavailable" },
    ],
    // A failed handshake is retried once; failing again (TLS 1.0-only servers always do) is definite.
    ["tls_unavailable", "handshake", null, false, DEFAULT_POLICY, null],
    ["tls_unavailable", "handshake", "timeout", false, DEFAULT_POLICY, null],
    // 454 "TLS not available" is temporary: retried once like a failed handshake.
    ["tls_unavailable", "busy", null, false, DEFAULT_POLICY, null],
    [
      "tls_unavailable",
      "busy",
      "tls_unavailable",
      false,
      DEFAULT_POLICY,
      { mode: "portal", reason: "tls_unavailable" },
    ],
    [
      "tls_unavailable",
      "handshake",
      "tls_unavailable",
      false,
      DEFAULT_POLICY,
      { mode: "portal", reason: "tls_unavailable" },
    ],
    [
      "mta_sts_no_valid_mx",
      "handshake",
      null,
      false,
      DEFAULT_POLICY,
      { mode: "portal", reason: "mta_sts_failed" },
    ],
    ["cert_invalid", "handshake", null, true, DEFAULT_POLICY, { mode: "portal", reason: "cert_unverified" }],
    ["cert_invalid", "handshake", null, false, DEFAULT_POLICY, null],
    [
      "tls_unavailable",
      "refused",
      null,
      false,
      forbid,
      { fail: "portal_forbidden", mode: "portal", reason: "tls_unavailable" },
    ],
    [
      "cert_invalid",
      "handshake",
      null,
      true,
      forbid,
      { fail: "portal_forbidden", mode: "portal", reason: "cert_unverified" },
    ],
    ["timeout", "handshake", "tls_unavailable", false, DEFAULT_POLICY, null],
    ["connection_failed", "handshake", null, false, forbid, null],
    ["rejected_temporary", "refused", null, true, DEFAULT_POLICY, null],
    ["rejected_permanent", "refused", null, false, DEFAULT_POLICY, null],
    ["dns_failed", "handshake", null, false, DEFAULT_POLICY, null],
  ];
  for (const [reason, how, previous, verified, policy, want] of cases)
    test(`${reason} (${how}, previous ${previous})${verified ? " (verified certs required)" : ""}, portal ${policy.portal}`, () => {
      const reply =
        how === "refused" ? refusal : how === "busy" ? { ...refusal, code: 454, enhanced: "4.7.0" } : null;
      const outcome = { reason, reply };
      const next = afterTlsFailure(outcome, previous, verified, policy);
      assert.deepEqual(next === null ? null : { ...next }, want);
    });
});
