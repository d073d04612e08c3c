/**
 * Validation of a submitted recipient key (ADR 0010 §3): an S/MIME certificate or an
 * OpenPGP public key must be usable now to encrypt mail to one address. Pure over the
 * submitted text and the time; each refusal is `recipient_key_invalid` with a fixed detail
 * per rule, never the address or anything of the key.
 */

import { MAX_KEY_CHARS, type RecipientKeyKind, refuse, type ValidatedKey } from "./key-facts.ts";
import { validatePgpKey } from "./validate-pgp.ts";
import { validateSmimeCertificate } from "./validate-smime.ts";

export type { RecipientKeyKind, ValidatedKey } from "./key-facts.ts";

/**
 * Validates `text` as a key of `kind` for `address` at `now`. Refusals name the request
 * field the text came from (`certificate` or `public_key`).
 */
export async function validateRecipientKey(
  kind: RecipientKeyKind,
  text: string,
  address: string,
  now: number,
): Promise<ValidatedKey> {
  const field = kind === "smime" ? "certificate" : "public_key";
  if (text.length > MAX_KEY_CHARS) throw refuse(field, "The key is too large.");
  if (kind === "smime") return validateSmimeCertificate(text, address, now);
  return validatePgpKey(text, address, now);
}
