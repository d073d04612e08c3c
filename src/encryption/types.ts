/**
 * A recipient's key as the worker uses it (ADR 0010 §3, §5): what was validated and stored
 * by /v1/recipient-keys, opened from storage.
 */
export interface RecipientKey {
  readonly id: string;
  readonly kind: "smime" | "pgp";
  /** PEM X.509 certificate (smime) or an armored OpenPGP public key (pgp). */
  readonly material: string;
  readonly fingerprint: string;
  /** Epoch ms; null: the key does not expire. */
  readonly notAfter: number | null;
}
