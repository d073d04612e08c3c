import type { DetailValue } from "./types.ts";

/**
 * The allow-list of audit `details` (ADR 0009 §2): named scalar fields only. A name not
 * listed here is dropped before hashing, and so is any value that is not a scalar, a
 * non-finite number, a string holding `@` (never an address), a string of more than
 * MAX_STRING printable ASCII characters, or a list longer than MAX_LIST. Nothing here can
 * carry an address, subject, body, token or key material: values are counts, codes, ids,
 * TLS parameters, modes and scopes.
 *
 * | group | names |
 * |---|---|
 * | counts | count, messages, recipients, deliveries, events, batches, attachments, purged, shredded, deleted, held, failures, attempt, attempts, bytes, entries |
 * | codes | code, reason, reply_code, enhanced_status, error, method, auth_method, route, phase, mode, kind, state, event, encryption, scheme, result, rate_limit |
 * | ids | org_id, key_id, new_key_id, message_id, delivery_id, domain_id, hold_id, batch_id, signing_key_id, message_ids, deleted_message_ids, delivery_ids |
 * | TLS | tls_version, tls_cipher, cert_verified, mta_sts, dane, port |
 * | access | scopes, expires_at, sandbox, test_mode |
 * | periods | from, to, seq, chain, content_days, metadata_days |
 * | policy | fields, subject_phi, force_mode, portal, require_verified_certs, allow_non_tls, portal_link_days, portal_code_attempts, portal_lock_minutes |
 */
export const DETAIL_NAMES: ReadonlySet<string> = new Set([
  // counts
  "count",
  "messages",
  "recipients",
  "deliveries",
  "events",
  "batches",
  "attachments",
  "purged",
  "shredded",
  "deleted",
  "held",
  "failures",
  "attempt",
  "attempts",
  "bytes",
  "entries",
  // codes
  "code",
  "reason",
  "reply_code",
  "enhanced_status",
  "error",
  "method",
  "auth_method",
  "route",
  "phase",
  "mode",
  "kind",
  "state",
  "event",
  "encryption",
  "scheme",
  "result",
  "rate_limit",
  "algorithm",
  // ids
  "org_id",
  "key_id",
  "new_key_id",
  "message_id",
  "delivery_id",
  "domain_id",
  "hold_id",
  "batch_id",
  "signing_key_id",
  "message_ids",
  "deleted_message_ids",
  "delivery_ids",
  // TLS evidence
  "tls_version",
  "tls_cipher",
  "cert_verified",
  "mta_sts",
  "dane",
  "port",
  // access
  "scopes",
  "expires_at",
  "sandbox",
  "test_mode",
  // periods and positions
  "from",
  "to",
  "seq",
  "version",
  "chain",
  "content_days",
  "metadata_days",
  // org policy (ADR 0010 §1): the changed field names and settings, never the notice texts
  "fields",
  "subject_phi",
  "force_mode",
  "portal",
  "require_verified_certs",
  "allow_non_tls",
  "portal_link_days",
  "portal_code_attempts",
  "portal_lock_minutes",
]);

export const MAX_STRING = 128;
/** A purge batch is 500 messages (ADR 0009 §4): its ids fit. */
export const MAX_LIST = 500;

/** Printable ASCII without `@`: codes, ids, versions, ciphers, routes, ISO times. */
const SAFE_STRING = /^[\x20-\x3f\x41-\x7e]*$/;

function safeString(value: string): boolean {
  return value.length <= MAX_STRING && SAFE_STRING.test(value);
}

function allowedValue(value: unknown): DetailValue | undefined {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string") return safeString(value) ? value : undefined;
  if (Array.isArray(value)) {
    if (value.length > MAX_LIST) return undefined;
    return value.every((v) => typeof v === "string" && safeString(v)) ? (value as string[]) : undefined;
  }
  return undefined;
}

/** The allow-listed part of `details`: unknown names and unsafe values are dropped. */
export function allowDetails(details: unknown): Record<string, DetailValue> {
  const out: Record<string, DetailValue> = {};
  if (typeof details !== "object" || details === null || Array.isArray(details)) return out;
  for (const [name, value] of Object.entries(details)) {
    if (!DETAIL_NAMES.has(name)) continue;
    const allowed = allowedValue(value);
    if (allowed !== undefined) out[name] = allowed;
  }
  return out;
}
