/**
 * Worker step "protect" (ADR 0010 §4): which protection one recipient gets, chosen at
 * delivery time from the requested mode, the keys on file, the org policy and what the
 * previous attempt chose. Pure functions, so the whole decision is tested as a table:
 * `chooseProtection` before the attempt, `afterTlsFailure` when a TLS attempt could not get
 * TLS. Nothing here sends anything; the worker carries the plan out.
 */
import type { EncryptionMode } from "../core/message.ts";
import type { FailedOutcome, FailureReason } from "../delivery/outcome.ts";
import type { RecipientKey } from "../encryption/types.ts";
import type { OrgPolicy } from "../policy/types.ts";

/** Why a delivery got its mode; recorded as `encryption.reason` in its evidence. */
export type ProtectionReason =
  | "key_on_file"
  | "requested"
  | "forced_by_policy"
  | "tls_available"
  | "tls_unavailable"
  | "mta_sts_failed"
  | "cert_unverified"
  | "no_phi_allow_non_tls";

/** The mode written to `deliveries.encryption`. */
export type ProtectionMode = "smime" | "pgp" | "tls" | "portal" | "none";

export type Plan =
  | { mode: "smime" | "pgp"; key: RecipientKey; reason: ProtectionReason }
  /**
   * `portalOnTlsFailure`: a TLS failure ends TLS for this recipient (`auto`): the same attempt
   * switches to the portal, or fails `portal_forbidden`. False: it is retried as before.
   */
  | { mode: "tls"; portalOnTlsFailure: boolean; reason: ProtectionReason }
  | { mode: "portal"; reason: ProtectionReason }
  /** allow_non_tls honoured: TLS when the server offers it, else plaintext. */
  | { mode: "none"; reason: ProtectionReason }
  /** Fails for good: `mode` is what the recipient would have needed, `reason` why. */
  | {
      fail: Extract<FailureReason, "no_recipient_key" | "portal_forbidden">;
      mode: ProtectionMode;
      reason: ProtectionReason;
    };

export interface ProtectInput {
  /** The message's `encryption`. */
  requested: EncryptionMode;
  /** Keys on file for the recipient, valid now (keysForAddress), newest first. */
  keys: readonly RecipientKey[];
  policy: OrgPolicy;
  /** What the previous attempt of this delivery chose (deliveries.encryption, evidence reason). */
  previous: { mode: string; reason: string | null } | null;
  /** `messages.allow_non_tls`: requested, allowed by the policy, no PHI, no attachment. */
  allowNonTls: boolean;
}

const REASONS: ReadonlySet<string> = new Set<ProtectionReason>([
  "key_on_file",
  "requested",
  "forced_by_policy",
  "tls_available",
  "tls_unavailable",
  "mta_sts_failed",
  "cert_unverified",
  "no_phi_allow_non_tls",
]);

function portalPlan(policy: OrgPolicy, reason: ProtectionReason): Plan {
  return policy.portal === "forbid"
    ? { fail: "portal_forbidden", mode: "portal", reason }
    : { mode: "portal", reason };
}

export function chooseProtection(input: ProtectInput): Plan {
  const { policy, keys } = input;
  const forced = policy.force_mode !== null;
  const mode: EncryptionMode = policy.force_mode ?? input.requested;
  const asked: ProtectionReason = forced ? "forced_by_policy" : "requested";
  // A retry of a portal delivery resends the notice, never the content.
  if (input.previous?.mode === "portal") {
    const reason = input.previous.reason;
    return portalPlan(policy, reason !== null && REASONS.has(reason) ? (reason as ProtectionReason) : asked);
  }
  switch (mode) {
    case "smime":
    case "pgp": {
      const key = keys.find((k) => k.kind === mode);
      return key === undefined
        ? { fail: "no_recipient_key", mode, reason: asked }
        : { mode, key, reason: asked };
    }
    case "tls":
      return { mode: "tls", portalOnTlsFailure: false, reason: asked };
    case "portal":
      return portalPlan(policy, asked);
    case "auto": {
      const key = keys.find((k) => k.kind === "smime") ?? keys.find((k) => k.kind === "pgp");
      if (key !== undefined) return { mode: key.kind, key, reason: "key_on_file" };
      if (input.allowNonTls && policy.allow_non_tls) return { mode: "none", reason: "no_phi_allow_non_tls" };
      return { mode: "tls", portalOnTlsFailure: true, reason: "tls_available" };
    }
  }
}

/**
 * After a TLS attempt of a `portalOnTlsFailure` plan failed: the portal now (or, forbidden,
 * a loud `portal_forbidden` failure), or null when the failure is one to retry (a refused
 * recipient, a timeout, a certificate that only fails when verification is not required).
 *
 * TLS is taken to be unavailable only when that is a property of the server, not a glitch:
 * it answered STARTTLS (or EHLO) with a permanent (5xx) refusal, so it does not offer TLS; or
 * TLS failed on this attempt and the previous one (`previousReason`), as it does every time
 * with a server that speaks only TLS 1.0/1.1. A single failed handshake (a reset, say) or a
 * 454 "TLS not available now" is retried first.
 */
export function afterTlsFailure(
  outcome: Pick<FailedOutcome, "reason" | "reply">,
  previousReason: string | null,
  requireVerifiedCerts: boolean,
  policy: OrgPolicy,
): Plan | null {
  const refusedForGood = outcome.reply !== null && outcome.reply.code >= 500;
  const noTls =
    outcome.reason === "tls_unavailable" && (refusedForGood || previousReason === "tls_unavailable");
  const why: ProtectionReason | null = noTls
    ? "tls_unavailable"
    : outcome.reason === "mta_sts_no_valid_mx"
      ? "mta_sts_failed"
      : outcome.reason === "cert_invalid" && requireVerifiedCerts
        ? "cert_unverified"
        : null;
  return why === null ? null : portalPlan(policy, why);
}
