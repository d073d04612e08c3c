import type { ErrorCode } from "../core/errors.ts";
import { auditCounts, auditDetailsPage, type Span } from "../store/reports.ts";
import type { OrgScope } from "../store/scope.ts";
import { parseObject } from "./evidence.ts";
import type { ComplianceReport, Counts } from "./types.ts";

/**
 * The report's sections read from the org's audit chain: policy violations, failed
 * authentications, key changes and retention purges (ADR 0009 §2 names the actions).
 */

/**
 * Refusals because a rule forbade the request, not because it was malformed: the key's
 * sender domains, an unverified From domain, a missing scope, the key's IP allow-list or
 * authentication methods, a rate limit. Validation errors (invalid_address, …) are not
 * policy violations. PHI in a subject refused by the org policy (issue 8) is one.
 */
export const POLICY_CODES = [
  "sender_not_allowed",
  "domain_not_verified",
  "forbidden",
  "ip_not_allowed",
  "auth_method_not_allowed",
  "rate_limited",
  "phi_in_subject",
] as const satisfies readonly ErrorCode[];

/** Authentication failures: the 401 codes and the lockout (429 auth_locked). */
export const AUTH_FAILURE_CODES = [
  "unauthorized",
  "key_revoked",
  "key_expired",
  "token_expired",
  "signature_malformed",
  "signature_expired",
  "signature_mismatch",
  "nonce_reused",
  "content_digest_mismatch",
  "auth_locked",
] as const satisfies readonly ErrorCode[];

const HTTP_REQUEST = "http.request";
const POLICY_ACTIONS = [HTTP_REQUEST, "smtp.auth", "smtp.message"];
const AUTH_ACTIONS = [HTTP_REQUEST, "smtp.auth"];
const KEY_ACTIONS = { created: "key.create", rotated: "key.rotate", revoked: "key.revoke" } as const;
export const PURGE_ACTION = "retention.purge";
const DETAILS_PAGE = 500;
const COUNT_FIELD = /^[a-z][a-z0-9_]{0,39}$/;

export const FAILED_AUTH_NOTE =
  "Failed authentications attributed to this org: its keys, revoked, expired or mis-signed. Attempts with an unknown key or no credentials name no org; they are in the instance audit chain, not in this report.";

/** Every code at zero, then the counted rows added: a stable shape. */
function byCode(
  codes: readonly string[],
  rows: readonly { action: string; outcome: string; n: number }[],
): {
  total: number;
  by_code: Counts;
  by_channel: { http: number; smtp: number };
} {
  const counts = new Map<string, number>(codes.map((c) => [c, 0]));
  const channel = { http: 0, smtp: 0 };
  let total = 0;
  for (const r of rows) {
    counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + r.n);
    if (r.action === HTTP_REQUEST) channel.http += r.n;
    else channel.smtp += r.n;
    total += r.n;
  }
  return { total, by_code: Object.fromEntries(counts), by_channel: channel };
}

async function purges(scope: OrgScope, span: Span): Promise<{ runs: number; purged: Counts }> {
  const sums = new Map<string, number>();
  let runs = 0;
  for (let after = 0; ; ) {
    const rows = await auditDetailsPage(scope, span, PURGE_ACTION, after, DETAILS_PAGE);
    for (const r of rows) {
      runs++;
      for (const [k, v] of Object.entries(parseObject(r.details) ?? {}))
        if (COUNT_FIELD.test(k) && typeof v === "number" && Number.isFinite(v) && v >= 0)
          sums.set(k, (sums.get(k) ?? 0) + v);
    }
    const last = rows.at(-1);
    if (last === undefined || rows.length < DETAILS_PAGE) break;
    after = last.seq;
  }
  return { runs, purged: Object.fromEntries([...sums].sort(([a], [b]) => (a < b ? -1 : 1))) };
}

export async function auditSections(
  scope: OrgScope,
  span: Span,
): Promise<
  Pick<ComplianceReport, "policy_violations" | "failed_authentications" | "keys"> & {
    purges: { runs: number; purged: Counts };
  }
> {
  const [policy, auth, keys, purged] = await Promise.all([
    auditCounts(scope, span, POLICY_ACTIONS, POLICY_CODES),
    auditCounts(scope, span, AUTH_ACTIONS, AUTH_FAILURE_CODES),
    auditCounts(scope, span, Object.values(KEY_ACTIONS), ["ok"]),
    purges(scope, span),
  ]);
  const keyCount = (action: string) => keys.filter((r) => r.action === action).reduce((a, r) => a + r.n, 0);
  return {
    policy_violations: byCode(POLICY_CODES, policy),
    failed_authentications: { ...byCode(AUTH_FAILURE_CODES, auth), note: FAILED_AUTH_NOTE },
    keys: {
      created: keyCount(KEY_ACTIONS.created),
      rotated: keyCount(KEY_ACTIONS.rotated),
      revoked: keyCount(KEY_ACTIONS.revoked),
    },
    purges: purged,
  };
}
