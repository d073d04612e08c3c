/**
 * Validation of a submitted recipient key (ADR 0010 §3): an S/MIME certificate or an
 * OpenPGP public key must be usable now to encrypt mail to one address. Pure over the
 * submitted text and the time; each refusal is `recipient_key_invalid` with a fixed detail
 * per rule, never the address or anything of the key.
 */

import { MAX_KEY_CHARS, type RecipientKeyKind, refuse, type ValidatedKey } from "./key-facts.ts";

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
  // pkijs and openpgp are loaded on first use: about 20 MB each that a node which never
  // sees a recipient key need not hold.
  if (kind === "smime")
    return (await import("./validate-smime.ts")).validateSmimeCertificate(text, address, now);
  return (await import("./validate-pgp.ts")).validatePgpKey(text, address, now);
}
