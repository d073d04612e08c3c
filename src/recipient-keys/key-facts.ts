import { SealpostError } from "../core/errors.ts";

/**
 * What validating a recipient key yields (ADR 0010 §3), and the helpers the S/MIME and
 * OpenPGP checks share: one coded refusal with a fixed detail per rule.
 */
export type RecipientKeyKind = "smime" | "pgp";

export interface ValidatedKey {
  readonly kind: RecipientKeyKind;
  /** SHA-256 hex of the DER certificate, or the OpenPGP fingerprint (lowercase hex). */
  readonly fingerprint: string;
  /** The fingerprint's last 16 hex digits. */
  readonly keyId: string;
  /** `rsa-3072`, `ec-p256`, `curve25519`, … (the key that encrypts). */
  readonly algorithm: string;
  /** Epoch ms; null: the key does not expire. */
  readonly notAfter: number | null;
  /** The normalised PEM certificate or armored public key, nothing else. */
  readonly material: string;
}

/** Submitted text larger than this is not a certificate or a public key anyone mails with. */
export const MAX_KEY_CHARS = 64 * 1024;

/** A refusal of `field` for one rule: the detail is a fixed text. */
export function refuse(field: string, detail: string, cause?: unknown): SealpostError {
  return new SealpostError("recipient_key_invalid", {
    field,
    detail,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The key id shown to users: the fingerprint's last 16 hex digits. */
export function keyIdOf(fingerprint: string): string {
  return fingerprint.slice(-16);
}

/** Case-insensitive address comparison, as the blind index normalises. */
export function sameAddress(a: string, b: string): boolean {
  return a.trim().normalize("NFC").toLowerCase() === b.trim().normalize("NFC").toLowerCase();
}
