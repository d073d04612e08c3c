/**
 * The TLS gate of a delivery attempt: after STARTTLS and before MAIL FROM, the socket must be
 * a TLS socket that negotiated TLS 1.2 or 1.3 (and, when the policy says so, verified the
 * certificate). It also reads the evidence recorded for the attempt from that socket.
 */
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { type FailedOutcome, softFail, type TlsEvidence } from "./outcome.ts";

export const ALLOWED_TLS_PROTOCOLS: ReadonlySet<string> = new Set(["TLSv1.2", "TLSv1.3"]);

/**
 * Certificate verification error codes (OpenSSL X509_V_ERR_* names as Node reports them, and
 * Node's host name mismatch). A TLS failure with one of these is `cert_invalid`, any other
 * TLS failure is `tls_unavailable`.
 */
export const CERT_ERROR_CODES: ReadonlySet<string> = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERROR_IN_CRL_LAST_UPDATE_FIELD",
  "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const CODE_SHAPE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Reduces whatever Node reports as a certificate error to a code; never free text. */
export function certErrorCode(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const raw =
    typeof value === "string"
      ? value
      : typeof value === "object" && typeof (value as { code?: unknown }).code === "string"
        ? (value as { code: string }).code
        : "";
  return CODE_SHAPE.test(raw) ? raw : "UNKNOWN_CERT_ERROR";
}

/** Evidence for a target before anything is known about TLS. */
export function emptyEvidence(host: string, ip: string | null, port: number): TlsEvidence {
  return { host, ip, port, tlsVersion: null, cipher: null, certVerified: false, certError: null };
}

/**
 * Reads the evidence from the session socket into `evidence` and decides whether the message
 * may go out over it. Returns null when it may, the failure otherwise.
 */
export function checkTlsSession(
  socket: Socket | false | null,
  sessionSecure: boolean,
  requireVerifiedCert: boolean,
  evidence: TlsEvidence,
): FailedOutcome | null {
  if (!(socket instanceof TLSSocket) || !sessionSecure || socket.destroyed) {
    return softFail("tls_unavailable", evidence);
  }
  const protocol = socket.getProtocol();
  evidence.tlsVersion = protocol;
  evidence.cipher = socket.getCipher()?.name ?? null;
  evidence.certVerified = socket.authorized === true;
  evidence.certError = evidence.certVerified
    ? null
    : (certErrorCode(socket.authorizationError) ?? "UNKNOWN_CERT_ERROR");
  if (typeof socket.remoteAddress === "string") evidence.ip = socket.remoteAddress;
  if (protocol === null || !ALLOWED_TLS_PROTOCOLS.has(protocol)) return softFail("tls_unavailable", evidence);
  if (requireVerifiedCert && !evidence.certVerified) return softFail("cert_invalid", evidence);
  return null;
}
