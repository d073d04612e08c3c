/**
 * An org's encryption, PHI and portal policy (ADR 0010 §1). Stored as JSON in
 * `orgs.policy`; a null column or a missing field means the default below.
 */
export type ForcedMode = "tls" | "portal" | "smime" | "pgp";

export interface OrgPolicy {
  /** PHI found in a subject: refuse the message (422 phi_in_subject) or redact the findings. */
  readonly subject_phi: "reject" | "redact";
  /** Overrides every message's `encryption`; null: the message decides (default auto). */
  readonly force_mode: ForcedMode | null;
  /** `forbid`: a delivery that would need the portal fails with `portal_forbidden`. */
  readonly portal: "allow" | "forbid";
  /** TLS deliveries also need a verified MX certificate (else portal, or fail). */
  readonly require_verified_certs: boolean;
  /** Whether a message's `allow_non_tls` may be honoured at all (never with PHI). */
  readonly allow_non_tls: boolean;
  readonly portal_link_days: number;
  readonly portal_code_attempts: number;
  readonly portal_lock_minutes: number;
  readonly notice_from_name: string;
  readonly notice_subject: string;
  readonly notice_text: string;
  /** Opens tracking (ADR 0011 §6): a pixel in messages without PHI; off by default. */
  readonly track_opens: boolean;
}

export const DEFAULT_POLICY: OrgPolicy = Object.freeze({
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
});
