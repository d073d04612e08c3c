import { type AuditActor, changeEntry } from "../audit/entries.ts";
import type { AuditLog, DetailValue } from "../audit/types.ts";
import { SealpostError } from "../core/errors.ts";
import { detectPhi } from "../phi/detect.ts";
import type { Db } from "../store/db.ts";
import { findPolicyJson, replacePolicyJson } from "../store/policy.ts";
import { type PolicyCache, parsePolicy } from "./org-policy.ts";
import type { OrgPolicy } from "./types.ts";

/**
 * Checking and saving a change of the org policy (ADR 0010 §1): any subset of the fields,
 * each checked strictly (enums, integer ranges, notice texts without line breaks in the
 * name and subject and without PHI anywhere). Errors name the field, never echo a value;
 * the audit entry names the changed fields and their settings, never the notice texts.
 */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type PolicyChange = Partial<Mutable<OrgPolicy>>;

const ENUMS = {
  subject_phi: ["reject", "redact"],
  force_mode: ["tls", "portal", "smime", "pgp", null],
  portal: ["allow", "forbid"],
} as const;
const BOOLEANS = ["require_verified_certs", "allow_non_tls", "track_opens"] as const;
const RANGES = {
  portal_link_days: [1, 90],
  portal_code_attempts: [1, 20],
  portal_lock_minutes: [1, 1440],
} as const;
/** The notice wording: [max length, single line]. */
const TEXTS = {
  notice_from_name: [200, true],
  notice_subject: [200, true],
  notice_text: [2000, false],
} as const;

/** Every field PUT /v1/policy accepts. */
export const POLICY_FIELDS = [
  ...Object.keys(ENUMS),
  ...BOOLEANS,
  ...Object.keys(RANGES),
  ...Object.keys(TEXTS),
] as readonly (keyof OrgPolicy)[];

const LINE_BREAK = /[\r\n]/;
// Other control characters have no place in a notice; tabs and line breaks in the text do.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function invalid(field: string, detail: string): SealpostError {
  return new SealpostError("invalid_value", { field, detail });
}

function wrongType(field: string, what: string): SealpostError {
  return new SealpostError("invalid_type", { field, detail: `${field} must be ${what}.` });
}

function checkText(field: keyof typeof TEXTS, raw: unknown): string {
  const [max, singleLine] = TEXTS[field];
  if (typeof raw !== "string") throw wrongType(field, "a string");
  if (raw.trim().length === 0 || raw.length > max)
    throw invalid(field, `${field} must be 1-${max} characters.`);
  if (singleLine && LINE_BREAK.test(raw))
    throw new SealpostError("header_injection", { field, detail: `${field} must not contain CR or LF.` });
  if (CONTROL.test(raw)) throw invalid(field, `${field} must not contain control characters.`);
  if (detectPhi([{ field: "text", text: raw }]).length > 0)
    throw new SealpostError("phi_in_policy", { field });
  return raw;
}

/** A checked change: at least one field, each valid. `raw` is an object of known fields (objectBody). */
export function checkPolicyChange(raw: Readonly<Record<string, unknown>>): PolicyChange {
  const change: Record<string, unknown> = {};
  for (const [field, allowed] of Object.entries(ENUMS)) {
    const v = raw[field];
    if (v === undefined) continue;
    if (!(allowed as readonly unknown[]).includes(v))
      throw invalid(field, `${field} must be one of ${allowed.map((a) => a ?? "null").join(", ")}.`);
    change[field] = v;
  }
  for (const field of BOOLEANS) {
    const v = raw[field];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw wrongType(field, "true or false");
    change[field] = v;
  }
  for (const [field, [min, max]] of Object.entries(RANGES)) {
    const v = raw[field];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v)) throw wrongType(field, "a whole number");
    if (v < min || v > max) throw invalid(field, `${field} must be ${min}-${max}.`);
    change[field] = v;
  }
  for (const field of Object.keys(TEXTS) as (keyof typeof TEXTS)[])
    if (raw[field] !== undefined) change[field] = checkText(field, raw[field]);
  if (Object.keys(change).length === 0)
    throw new SealpostError("missing_field", { detail: "Give at least one policy field to change." });
  return change as PolicyChange;
}

export async function getPolicy(db: Db, orgId: string): Promise<OrgPolicy> {
  const row = await findPolicyJson(db, orgId);
  if (row === undefined) throw new SealpostError("not_found");
  return parsePolicy(row.policy);
}

/** The audit details of a change: the field names, and the settings other than the notice texts. */
function auditDetails(change: PolicyChange): Record<string, DetailValue> {
  const details: Record<string, DetailValue> = { fields: Object.keys(change).sort() };
  for (const [k, v] of Object.entries(change)) if (!Object.hasOwn(TEXTS, k)) details[k] = v as DetailValue;
  return details;
}

const MAX_TRIES = 5;

/**
 * Merges a checked change into the stored policy (only the fields ever set are stored, so
 * a later change of a default reaches orgs that never set it), drops this thread's cached
 * copy and records `policy.update` before answering.
 */
export async function setPolicy(
  deps: { db: Db; audit: AuditLog; policies: PolicyCache },
  orgId: string,
  change: PolicyChange,
  actor: AuditActor,
): Promise<OrgPolicy> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const row = await findPolicyJson(deps.db, orgId);
    if (row === undefined) throw new SealpostError("not_found");
    const stored = row.policy === null ? {} : (JSON.parse(row.policy) as Record<string, unknown>);
    const next = JSON.stringify({ ...stored, ...change });
    if (!(await replacePolicyJson(deps.db, orgId, row.policy, next))) continue;
    deps.policies.forget(orgId);
    await deps.audit.recordNow(
      changeEntry(actor, orgId, "policy.update", { type: "org", id: orgId }, auditDetails(change)),
    );
    return parsePolicy(next);
  }
  // Each failed compare-and-set means another change won; this many in a row is not expected.
  throw new Error("the org policy kept changing under this update");
}
