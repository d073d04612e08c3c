/**
 * The fixed messages encryption fails with (ADR 0010 §5). They name what went wrong and
 * nothing else: no address, no key material, no message text, and no `cause`, because the
 * libraries' own messages quote key ids and user ids. The worker maps any of them to the
 * failure reason `encryption_failed`.
 */
export const ENCRYPTION_ERRORS = {
  malformedMessage: "encryption: the rendered message has no valid header block",
  unusableCertificate: "encryption: the recipient certificate is not a usable RSA certificate",
  unusablePgpKey: "encryption: the recipient OpenPGP key cannot encrypt",
  unknownKind: "encryption: unknown recipient key kind",
  failed: "encryption: encrypting the message failed",
} as const;
