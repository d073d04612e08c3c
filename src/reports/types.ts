import type { DeliveryStatus } from "../store/schema.ts";

/**
 * The compliance report (ADR 0009 §5): counts, codes and ids only, never an address, a
 * subject or content. The shape is stable: every known key is present, zero when nothing
 * was counted, so a reader (or a spreadsheet built on the CSV form) can rely on it.
 * docs/compliance.md explains each section.
 */

/** The period reported on, epoch milliseconds: `from` included, `to` excluded. */
export interface ReportPeriod {
  readonly from: number;
  readonly to: number;
}

export type Counts = Record<string, number>;

/** A section whose source does not exist yet (issue 8) or that cannot apply: zero, with why. */
export interface NotAvailable {
  readonly available: false;
  readonly count: 0;
  readonly note: string;
}

export interface UnusualDay {
  /** The UTC day, YYYY-MM-DD. */
  readonly date: string;
  readonly messages: number;
  readonly baseline_days: number;
  readonly baseline_mean: number;
  readonly baseline_stddev: number;
  readonly threshold: number;
}

export interface UnusualVolume {
  readonly method: string;
  /** `insufficient_history`: no day of the period had 7 days of the org's history before it. */
  readonly status: "evaluated" | "insufficient_history";
  readonly days_evaluated: number;
  readonly days_without_history: number;
  readonly unusual_days: readonly UnusualDay[];
}

export interface ComplianceReport {
  readonly object: "compliance_report";
  readonly version: 1;
  readonly org: { readonly id: string; readonly name: string };
  readonly period: { readonly from: string; readonly to: string };
  readonly generated_at: string;
  readonly messages: {
    readonly total: number;
    readonly by_mode: { readonly live: number; readonly test: number };
    readonly by_encryption: Counts;
  };
  readonly recipients: {
    readonly total: number;
    readonly by_encryption: Counts;
  };
  readonly delivery_outcomes: {
    readonly by_status: Record<DeliveryStatus, number>;
    /** The last failure or hold reason code of recipients not (yet) delivered. */
    readonly by_reason: Counts;
  };
  readonly tls: {
    /** Recipients delivered over SMTP: the population of `versions`, `ciphers` and `certificates`. */
    readonly delivered_over_smtp: number;
    /** Recipients of test-mode messages, captured in the sandbox: nothing left sealpost. */
    readonly delivered_to_sandbox: number;
    /** `none`: delivered without TLS (a message sent with allow_non_tls). */
    readonly versions: Counts;
    readonly ciphers: Counts;
  };
  readonly certificates: {
    readonly verified: number;
    readonly unverified: number;
    /** Why the unverified ones did not verify (OpenSSL/Node codes). */
    readonly errors: Counts;
  };
  readonly mta_sts: {
    /** Recipients with an SMTP delivery attempt: the population of `by_mode`. */
    readonly recipients_attempted: number;
    readonly by_mode: {
      readonly enforce: number;
      readonly testing: number;
      readonly none: number;
      readonly no_policy: number;
      readonly not_applied: number;
    };
    readonly mx_mismatches: number;
    readonly policy_unavailable: number;
  };
  /** What each recipient got (ADR 0010 §4), from its latest evidence: smime, pgp, tls, portal, none. */
  readonly protection: { readonly by_mode: Counts };
  /** Recipients sent to the portal because TLS could not be had (not those who asked for it). */
  readonly portal_fallbacks: {
    readonly available: true;
    readonly count: number;
    /** tls_unavailable, mta_sts_failed, cert_unverified. */
    readonly by_reason: Counts;
  };
  /** PHI found at submit time (ADR 0010 §2): counts only, never a value. */
  readonly phi_detections: {
    readonly available: true;
    /** Accepted messages with at least one finding. */
    readonly count: number;
    readonly findings: number;
    /** Every category, zero when none was found. */
    readonly by_category: Counts;
    /** Accepted messages whose subject had PHI, redacted under `subject_phi: redact`. */
    readonly subject_redacted: number;
    /** Messages refused with `phi_in_subject` (from the audit chain). */
    readonly subject_rejected: number;
    readonly note: string;
  };
  readonly policy_violations: {
    readonly total: number;
    readonly by_code: Counts;
    readonly by_channel: { readonly http: number; readonly smtp: number };
  };
  readonly unusual_volume: UnusualVolume;
  readonly recipients_outside_allowed_domains: NotAvailable;
  readonly failed_authentications: {
    readonly total: number;
    readonly by_code: Counts;
    readonly by_channel: { readonly http: number; readonly smtp: number };
    readonly note: string;
  };
  readonly keys: { readonly created: number; readonly rotated: number; readonly revoked: number };
  readonly retention: {
    readonly purge_runs: number;
    /** Sums of the numeric fields of the period's `retention.purge` audit entries. */
    readonly purged: Counts;
    readonly legal_holds: {
      readonly created: number;
      readonly created_by_kind: {
        readonly message: number;
        readonly recipient: number;
        readonly org: number;
      };
      readonly released: number;
      readonly active_at_end: number;
    };
  };
}
