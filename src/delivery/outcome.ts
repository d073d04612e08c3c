/**
 * What one delivery attempt produced, as a value. The worker records it (evidence for the
 * audit trail and the compliance report) and decides from `kind` whether to retry
 * (`soft_fail`), bounce (`hard_fail`) or mark the message sent.
 *
 * Outcomes are classified from SMTP reply codes and error codes only, never from reply text,
 * and carry no address or content: `SmtpReply.text` is sanitized (see reply.ts).
 */

/** How the connection to one MX (or relay) was protected. */
export interface TlsEvidence {
  /** The MX or relay host name the attempt was for (the name certificates are checked against). */
  host: string;
  /** The address actually connected to, when known. */
  ip: string | null;
  port: number;
  /** Negotiated protocol ("TLSv1.3", "TLSv1.2"), null when TLS was not established. */
  tlsVersion: string | null;
  /** OpenSSL cipher name, null when TLS was not established. */
  cipher: string | null;
  /** True when the certificate chain and the host name verified. */
  certVerified: boolean;
  /** An OpenSSL/Node error code such as DEPTH_ZERO_SELF_SIGNED_CERT, never free text. */
  certError: string | null;
}

/** A server reply; `text` is sanitized (no addresses, nothing inside <...>, at most 200 chars). */
export interface SmtpReply {
  code: number;
  /** Enhanced status code (RFC 3463) such as "5.1.1", when the server sent one. */
  enhanced: string | null;
  text: string;
}

export type FailureReason =
  | "tls_unavailable"
  | "cert_invalid"
  | "connection_failed"
  | "timeout"
  | "dns_failed"
  | "null_mx"
  | "no_route"
  | "rejected_temporary"
  | "rejected_permanent"
  | "protocol_error"
  | "mta_sts_no_valid_mx"
  /** A test-mode message reached the SMTP deliverer (a routing bug): failed, never sent. */
  | "test_mode_message"
  /** `smime`/`pgp` was required but no valid key for the address is on file (ADR 0010 §4). */
  | "no_recipient_key"
  /** TLS could not be had and the org forbids the portal: failed loudly, never plaintext. */
  | "portal_forbidden"
  /** Encrypting for the recipient's key failed (an unusable key): failed, never sent in clear. */
  | "encryption_failed";

export type AttemptOutcome =
  | { kind: "sent"; evidence: TlsEvidence; reply: SmtpReply }
  | { kind: "soft_fail"; reason: FailureReason; evidence: TlsEvidence | null; reply: SmtpReply | null }
  | { kind: "hard_fail"; reason: FailureReason; evidence: TlsEvidence | null; reply: SmtpReply | null };

export type FailedOutcome = Extract<AttemptOutcome, { kind: "soft_fail" | "hard_fail" }>;

export function softFail(
  reason: FailureReason,
  evidence: TlsEvidence | null = null,
  reply: SmtpReply | null = null,
): FailedOutcome {
  return { kind: "soft_fail", reason, evidence, reply };
}

export function hardFail(
  reason: FailureReason,
  evidence: TlsEvidence | null = null,
  reply: SmtpReply | null = null,
): FailedOutcome {
  return { kind: "hard_fail", reason, evidence, reply };
}

/**
 * Classifies a refusal by its reply code: 4xx is temporary (retry later), 5xx is permanent
 * (bounce). Anything else is not a refusal the protocol defines: a soft `protocol_error`.
 */
export function outcomeForReply(reply: SmtpReply, evidence: TlsEvidence | null): FailedOutcome {
  if (reply.code >= 400 && reply.code < 500) return softFail("rejected_temporary", evidence, reply);
  if (reply.code >= 500 && reply.code < 600) return hardFail("rejected_permanent", evidence, reply);
  return softFail("protocol_error", evidence, reply);
}
