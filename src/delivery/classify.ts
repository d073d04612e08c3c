/**
 * Turns a nodemailer SMTPConnection error into an AttemptOutcome, from its codes only: the
 * nodemailer code (ETLS, ESOCKET, ...), the system or OpenSSL code it wraps (originalCode),
 * the command it failed on and the reply code. The error message is never read.
 *
 * - Certificate verification codes: soft `cert_invalid`.
 * - Before MAIL FROM (greeting, EHLO, STARTTLS, handshake) nothing bounces: a refused or
 *   failed STARTTLS / TLS handshake is soft `tls_unavailable`, a refusing greeting is soft
 *   `rejected_temporary` (like Postfix's smtp_skip_5xx_greeting), so the next MX is tried.
 * - Replies to MAIL FROM, RCPT TO, DATA and the message: 4xx soft `rejected_temporary`,
 *   5xx hard `rejected_permanent`.
 * - Timeouts: soft `timeout`; other network failures: soft `connection_failed`.
 */
import { type FailedOutcome, hardFail, outcomeForReply, softFail, type TlsEvidence } from "./outcome.ts";
import { parseReply } from "./reply.ts";
import { CERT_ERROR_CODES } from "./tls-check.ts";

export interface SessionState {
  /** True while nodemailer is in the middle of the STARTTLS handshake. */
  upgrading: boolean;
  /** True once the session runs over TLS. */
  secure: boolean;
  /** True once MAIL FROM may have been sent. */
  envelopeStarted: boolean;
}

function field(err: unknown, name: string): unknown {
  return typeof err === "object" && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function classifySmtpError(err: unknown, state: SessionState, evidence: TlsEvidence): FailedOutcome {
  const code = str(field(err, "code"));
  const original = str(field(err, "originalCode"));
  const command = str(field(err, "command"));
  const response = field(err, "response");
  const reply = typeof response === "string" ? parseReply(response) : null;

  const certCode = [original, code].find((c) => CERT_ERROR_CODES.has(c));
  if (certCode !== undefined) {
    evidence.certVerified = false;
    evidence.certError = certCode;
    return softFail("cert_invalid", evidence);
  }
  if (code === "ETIMEDOUT" || original === "ETIMEDOUT") return softFail("timeout", evidence, reply);

  if (!state.envelopeStarted) {
    if (reply !== null && reply.code === 421) return softFail("rejected_temporary", evidence, reply);
    const tlsStep = state.upgrading || code === "ETLS" || command === "STARTTLS";
    if (tlsStep || (command === "EHLO" && !state.secure)) return softFail("tls_unavailable", evidence, reply);
    if (reply !== null) {
      return softFail(reply.code >= 400 ? "rejected_temporary" : "protocol_error", evidence, reply);
    }
  } else if (reply !== null) {
    return outcomeForReply(reply, evidence);
  }

  switch (code) {
    case "EDNS":
      return softFail("dns_failed", evidence);
    case "ECONNECTION":
    case "ESOCKET":
      return softFail("connection_failed", evidence);
    case "EMESSAGE":
      // Refused locally before sending: larger than the SIZE the server announced.
      return hardFail("rejected_permanent", evidence);
    default:
      return softFail("protocol_error", evidence);
  }
}
