/**
 * Turns a nodemailer SMTPConnection error into an AttemptOutcome, from its codes only: the
 * nodemailer code (ETLS, ESOCKET, ...), the system or OpenSSL code it wraps (originalCode),
 * the command it failed on, the reply code and the enhanced status code. The error message
 * and the reply text are never read.
 *
 * - Certificate verification codes: soft `cert_invalid`.
 * - Timeouts (connect, greeting, any silent step): soft `timeout`.
 * - Before MAIL FROM (greeting, EHLO, STARTTLS, handshake) nothing bounces: a refused or
 *   failed STARTTLS / TLS handshake is soft `tls_unavailable`, a refusing greeting (421 or
 *   even 554) is soft `rejected_temporary` (like Postfix's smtp_skip_5xx_greeting), so the
 *   next MX is tried and the delivery is retried later.
 * - Replies to MAIL FROM, RCPT TO, DATA and the message: see `classifyReply`.
 * - Other network failures (reset, closed mid-DATA, refused): soft `connection_failed`; DNS:
 *   soft `dns_failed`; anything unrecognised: soft `protocol_error`. The one local hard
 *   failure is a message larger than the SIZE the server announced (EMESSAGE, no reply).
 *
 * ## The reply rule (RFC 5321 4.2.1, RFC 3463)
 *
 * 1. The basic reply code decides: 4xx is temporary (soft `rejected_temporary`), 5xx is
 *    permanent (hard `rejected_permanent`: unknown user, policy, message too large, ...),
 *    anything else where a refusal was expected is soft `protocol_error`.
 * 2. The enhanced status code is kept with the reply (`SmtpReply.enhanced`, shown as
 *    `enhanced_code` in the evidence) and never overrides the basic code. RFC 3463 requires
 *    its class digit to match the basic code's; when a server breaks that ("550 4.2.2",
 *    "451 5.7.1"), the basic code wins, as RFC 5321 clients act on the basic code: "550 4.2.2"
 *    bounces, "451 5.7.1" is retried. Both codes are recorded, so the mismatch stays visible.
 * 3. One exception, RFC 5321 4.5.3.1.10: a 552 in reply to RCPT TO is an old code for
 *    "too many recipients" and must be treated as temporary (452). A 552 after DATA ("message
 *    too large", 5.3.4) stays permanent.
 */
import { type FailedOutcome, hardFail, type SmtpReply, softFail, type TlsEvidence } from "./outcome.ts";
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

/** The SMTP command a reply answered, as nodemailer names it in `err.command`. */
export type ReplyCommand = "MAIL FROM" | "RCPT TO" | "DATA" | "other";

function field(err: unknown, name: string): unknown {
  return typeof err === "object" && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function replyCommand(command: string): ReplyCommand {
  return command === "MAIL FROM" || command === "RCPT TO" || command === "DATA" ? command : "other";
}

/**
 * Classifies a refusal of the mail transaction (MAIL FROM, RCPT TO, DATA, the message) by the
 * rule in the file comment: the basic code decides, the enhanced code is recorded with it.
 */
export function classifyReply(
  reply: SmtpReply,
  command: ReplyCommand,
  evidence: TlsEvidence | null,
): FailedOutcome {
  const basicClass = Math.floor(reply.code / 100);
  if (basicClass === 5 && reply.code === 552 && command === "RCPT TO") {
    return softFail("rejected_temporary", evidence, reply);
  }
  if (basicClass === 4) return softFail("rejected_temporary", evidence, reply);
  if (basicClass === 5) return hardFail("rejected_permanent", evidence, reply);
  return softFail("protocol_error", evidence, reply);
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
    return classifyReply(reply, replyCommand(command), evidence);
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
