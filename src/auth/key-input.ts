import { domainToASCII } from "node:url";
import { type Cidr, formatCidr, parseCidr } from "../core/cidr.ts";
import { type ErrorCode, type FieldIssue, SealpostError } from "../core/errors.ts";
import {
  ALL_AUTH_METHODS,
  ALL_SCOPES,
  type AuthMethod,
  type Scope,
  TEST_MODE_SCOPES,
} from "../core/principal.ts";
import { formatRateLimit, parseRateLimit } from "../core/rate-limit.ts";
import type { KeyMode } from "./tokens.ts";

/**
 * The properties of a new key (ADR 0008 §2), checked once for the API and the CLI. Errors
 * name the API's JSON field (`scopes`, `sender_domains`, …) and never echo a value.
 */
export interface NewKeyInput {
  name?: string | undefined;
  mode: string;
  scopes: readonly string[];
  /** Omitted: the caller's own restriction (null for an unrestricted caller). */
  senderDomains?: readonly string[] | null | undefined;
  allowedIps?: readonly string[] | null | undefined;
  /** Epoch ms, or an RFC 3339 date-time; at least 60 s ahead. */
  expiresAt?: number | string | null | undefined;
  authMethods?: readonly string[] | null | undefined;
  /** `<n>/<s|m|h>` or `off`. */
  rateLimit?: string | null | undefined;
}

export interface ValidKeyInput {
  name: string;
  mode: KeyMode;
  scopes: Scope[];
  senderDomains: string[] | null | undefined;
  allowedIps: Cidr[] | null;
  expiresAt: number | null;
  authMethods: AuthMethod[] | null;
  rateLimit: string | null;
}

export const MAX_ALLOWED_IPS = 50;
export const MAX_SENDER_DOMAINS = 100;
export const MIN_EXPIRY_AHEAD_MS = 60_000;
/** Beyond this a date is a typo, and far enough out it is not even a valid Date. */
export const MAX_EXPIRY_AHEAD_MS = 100 * 365.25 * 86_400_000;
const NAME_RE = /^[^\p{Cc}]{1,100}$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

class Issues {
  readonly list: FieldIssue[] = [];
  add(field: string, code: ErrorCode, detail: string): void {
    this.list.push({ field, code, detail });
  }
  throwIfAny(): void {
    const first = this.list[0];
    if (first === undefined) return;
    throw new SealpostError(this.list.length === 1 ? first.code : "validation_failed", {
      field: first.field,
      issues: this.list,
      detail: this.list.length === 1 ? `${first.field} ${first.detail}` : undefined,
    });
  }
}

/** Throws `invalid_value` (one problem) or `validation_failed` (several), with the fields at fault. */
export function validateNewKey(input: NewKeyInput, now: number): ValidKeyInput {
  const issues = new Issues();
  const mode = input.mode === "live" || input.mode === "test" ? input.mode : null;
  if (mode === null) issues.add("mode", "invalid_value", "must be live or test.");
  const name = input.name ?? "key";
  if (!NAME_RE.test(name))
    issues.add("name", "invalid_value", "must be 1 to 100 characters, no control characters.");
  const valid: ValidKeyInput = {
    name,
    mode: mode ?? "live",
    scopes: scopes(input.scopes, mode, issues),
    senderDomains:
      input.senderDomains === undefined || input.senderDomains === null
        ? input.senderDomains
        : senderDomains(input.senderDomains, issues),
    allowedIps: input.allowedIps == null ? null : allowedIps(input.allowedIps, issues),
    expiresAt: input.expiresAt == null ? null : expiresAt(input.expiresAt, now, issues),
    authMethods: input.authMethods == null ? null : authMethods(input.authMethods, issues),
    rateLimit: input.rateLimit == null ? null : rateLimit(input.rateLimit, issues),
  };
  issues.throwIfAny();
  return valid;
}

function scopes(raw: readonly string[], mode: KeyMode | null, issues: Issues): Scope[] {
  const list = [...new Set(raw)];
  if (list.length === 0 || !list.every((s) => (ALL_SCOPES as readonly string[]).includes(s))) {
    issues.add("scopes", "invalid_value", `must be a non-empty list of: ${ALL_SCOPES.join(", ")}.`);
    return [];
  }
  const valid = list as Scope[];
  if (mode === "test" && !valid.every((s) => TEST_MODE_SCOPES.includes(s)))
    issues.add("scopes", "invalid_value", `test keys hold only ${TEST_MODE_SCOPES.join(", ")}.`);
  return valid;
}

/** An exact domain in ASCII (an IDN is converted), lower case; null when it is not one. */
export function normalizeSenderDomain(raw: string): string | null {
  const ascii = domainToASCII(raw.trim().toLowerCase());
  const labels = ascii.split(".");
  if (ascii === "" || ascii.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)))
    return null;
  return ascii;
}

function senderDomains(raw: readonly string[], issues: Issues): string[] {
  const list = raw.map(normalizeSenderDomain);
  if (list.length === 0 || list.length > MAX_SENDER_DOMAINS || list.some((d) => d === null)) {
    issues.add(
      "sender_domains",
      "invalid_value",
      `must be null or 1 to ${MAX_SENDER_DOMAINS} domain names such as clinic.example (no wildcards).`,
    );
    return [];
  }
  return [...new Set(list as string[])];
}

function allowedIps(raw: readonly string[], issues: Issues): Cidr[] {
  const list = raw.map(parseCidr);
  if (list.length === 0 || list.length > MAX_ALLOWED_IPS || list.some((c) => c === null)) {
    issues.add(
      "allowed_ips",
      "invalid_value",
      `must be null or 1 to ${MAX_ALLOWED_IPS} addresses or CIDR ranges such as 192.0.2.0/24.`,
    );
    return [];
  }
  const unique = new Map((list as Cidr[]).map((c) => [formatCidr(c), c]));
  return [...unique.values()];
}

function expiresAt(raw: number | string, now: number, issues: Issues): number | null {
  const at = typeof raw === "number" ? raw : DATE_TIME_RE.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(at)) {
    issues.add("expires_at", "invalid_value", "must be an RFC 3339 date-time.");
    return null;
  }
  if (at < now + MIN_EXPIRY_AHEAD_MS) {
    issues.add("expires_at", "invalid_value", "must be at least 60 seconds ahead.");
    return null;
  }
  if (at > now + MAX_EXPIRY_AHEAD_MS) {
    issues.add("expires_at", "invalid_value", "must be at most 100 years ahead.");
    return null;
  }
  return Math.floor(at);
}

function authMethods(raw: readonly string[], issues: Issues): AuthMethod[] {
  const list = [...new Set(raw)];
  if (list.length === 0 || !list.every((m) => (ALL_AUTH_METHODS as readonly string[]).includes(m))) {
    issues.add(
      "auth_methods",
      "invalid_value",
      `must be null or a non-empty list of: ${ALL_AUTH_METHODS.join(", ")}.`,
    );
    return [];
  }
  return list as AuthMethod[];
}

function rateLimit(raw: string, issues: Issues): string | null {
  const parsed = parseRateLimit(raw);
  if (parsed === null) {
    issues.add("rate_limit", "invalid_value", "must be <n>/s, <n>/m, <n>/h or off.");
    return null;
  }
  return formatRateLimit(parsed);
}

/** `--expires-in` and friends: `30d`, `12h`, `45m`, `90s` or plain seconds; null when not one. */
export function parseDuration(raw: string): number | null {
  const m = /^([1-9]\d{0,9})([smhd]?)$/.exec(raw.trim());
  if (m === null) return null;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit * 1000;
}
