import { evidenceOf, type MessageCursor, messagePage, type Span } from "../store/reports.ts";
import type { DeliveryStatus } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import type { ComplianceReport, Counts } from "./types.ts";

/** Messages per page; each has at most the submission limit of recipients. */
export const EVIDENCE_PAGE = 500;

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$/;

/** Why the worker sent a recipient to the portal instead of TLS (worker/protect.ts). */
const FALLBACK_REASONS: ReadonlySet<string> = new Set([
  "tls_unavailable",
  "mta_sts_failed",
  "cert_unverified",
]);

/** A value as a count key: itself when it is a plain token (a code, a cipher name), else `other`. */
export function token(value: unknown): string {
  return typeof value === "string" && TOKEN.test(value) ? value : "other";
}

/** Counts keyed by arbitrary tokens; a Map, so a key like `constructor` is just a key. */
class Tally {
  readonly #counts = new Map<string, number>();
  add(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }
  /** Most frequent first, then by name: the order a reader scans. */
  toObject(): Counts {
    const sorted = [...this.#counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return Object.fromEntries(sorted);
  }
}

/**
 * TLS, certificate and MTA-STS counts from the recipients' evidence (the JSON the worker
 * records with each delivery: worker/steps.ts `evidenceJson`). Each recipient counts once,
 * by the evidence of its latest attempt. Only named fields are read, and a value that is not
 * a plain token (a cipher name, an error code) is counted as `other`: nothing free-form
 * reaches the report.
 */
export class EvidenceTally {
  deliveredOverSmtp = 0;
  deliveredToSandbox = 0;
  readonly versions = new Tally();
  readonly ciphers = new Tally();
  verified = 0;
  unverified = 0;
  readonly certErrors = new Tally();
  attempted = 0;
  readonly mtaModes = { enforce: 0, testing: 0, none: 0, no_policy: 0, not_applied: 0 };
  mxMismatches = 0;
  policyUnavailable = 0;
  /** The protection each recipient got or was to get (ADR 0010 §4), by mode. */
  readonly protection = new Tally();
  portalFallbacks = 0;
  readonly fallbackReasons = new Tally();

  add(status: DeliveryStatus, raw: string | null): void {
    const e = parseObject(raw);
    if (e === null) return;
    this.#protection(e);
    if (e.sandbox === true) {
      if (status === "delivered") this.deliveredToSandbox++;
      return;
    }
    if ("mx_host" in e || "mta_sts" in e) this.#attempt(e);
    if (status === "delivered" && "mx_host" in e) this.#delivered(e);
  }

  /** `encryption: {mode, reason}`; a portal chosen because TLS could not be had is a fallback. */
  #protection(e: Record<string, unknown>): void {
    const p = e.encryption;
    if (typeof p !== "object" || p === null) return;
    const { mode, reason } = p as Record<string, unknown>;
    this.protection.add(token(mode));
    if (mode === "portal" && typeof reason === "string" && FALLBACK_REASONS.has(reason)) {
      this.portalFallbacks++;
      this.fallbackReasons.add(reason);
    }
  }

  #attempt(e: Record<string, unknown>): void {
    this.attempted++;
    const sts = e.mta_sts;
    if (typeof sts !== "object" || sts === null) {
      this.mtaModes.not_applied++;
      return;
    }
    const { mode, mx_mismatch, error } = sts as Record<string, unknown>;
    if (mode === "enforce" || mode === "testing" || mode === "none") this.mtaModes[mode]++;
    else this.mtaModes.no_policy++;
    if (Array.isArray(mx_mismatch) && mx_mismatch.length > 0) this.mxMismatches++;
    if (error !== null && error !== undefined) this.policyUnavailable++;
  }

  #delivered(e: Record<string, unknown>): void {
    this.deliveredOverSmtp++;
    if (e.tls_version === null || e.tls_version === undefined) {
      this.versions.add("none");
      return;
    }
    this.versions.add(token(e.tls_version));
    this.ciphers.add(token(e.cipher));
    if (e.cert_verified === true) this.verified++;
    else {
      this.unverified++;
      this.certErrors.add(
        e.cert_error === null || e.cert_error === undefined ? "unknown" : token(e.cert_error),
      );
    }
  }

  sections(): Pick<ComplianceReport, "tls" | "certificates" | "mta_sts" | "protection" | "portal_fallbacks"> {
    return {
      protection: { by_mode: this.protection.toObject() },
      portal_fallbacks: {
        available: true,
        count: this.portalFallbacks,
        by_reason: this.fallbackReasons.toObject(),
      },
      tls: {
        delivered_over_smtp: this.deliveredOverSmtp,
        delivered_to_sandbox: this.deliveredToSandbox,
        versions: this.versions.toObject(),
        ciphers: this.ciphers.toObject(),
      },
      certificates: {
        verified: this.verified,
        unverified: this.unverified,
        errors: this.certErrors.toObject(),
      },
      mta_sts: {
        recipients_attempted: this.attempted,
        by_mode: { ...this.mtaModes },
        mx_mismatches: this.mxMismatches,
        policy_unavailable: this.policyUnavailable,
      },
    };
  }
}

/** A JSON object read from a stored JSON column, or null for anything else. */
export function parseObject(raw: string | null): Record<string, unknown> | null {
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/**
 * Reads the span's evidence a page of messages at a time (bounded memory; each page an
 * index range, however long the period) into one tally.
 */
export async function tallyEvidence(
  scope: OrgScope,
  span: Span,
  pageSize = EVIDENCE_PAGE,
): Promise<EvidenceTally> {
  const tally = new EvidenceTally();
  for (let after: MessageCursor | null = null; ; ) {
    const messages = await messagePage(scope, span, after, pageSize);
    for (const r of await evidenceOf(
      scope,
      messages.map((m) => m.id),
    ))
      tally.add(r.status, r.evidence);
    const last = messages.at(-1);
    if (last === undefined || messages.length < pageSize) return tally;
    after = { createdAt: last.created_at, id: last.id };
  }
}
