import type { Keyring, OrgKeySet } from "../core/keyring.ts";
import { seal } from "../crypto/aead.ts";
import type { SecretColumns } from "../store/api-keys.ts";
import type { ApiKeysTable } from "../store/schema.ts";
import { deriveSigningKey } from "./hmac.ts";
import { hashToken } from "./tokens.ts";

/**
 * What a key keeps of its token (ADR 0008 §2): the keyed hash, and the HMAC signing key
 * `k_sign` derived from the token, sealed with the org data key under AAD
 * `apikey-sign:<id>`. Neither gives the token back, not even to a master-key holder.
 */

export function signingKeyAad(keyId: string): string {
  return `apikey-sign:${keyId}`;
}

/** The hash and the signing key of `token` for key `keyId`, sealed with `org`'s active data key. */
export function secretColumns(pepper: Buffer, org: OrgKeySet, keyId: string, token: string): SecretColumns {
  const kSign = deriveSigningKey(token);
  try {
    return {
      secret_hash: hashToken(pepper, token),
      hash_alg: "hmac-sha256",
      signing_key: seal(org.dataKey, kSign, signingKeyAad(keyId)),
      signing_key_by: org.dataKeyId,
    };
  } finally {
    kSign.fill(0);
  }
}

/** The current and previous signing keys of a row, null where it has none. */
export async function openSigningKeys(
  keyring: Keyring,
  row: Pick<ApiKeysTable, "id" | "org_id" | "signing_key" | "prev_signing_key" | "signing_key_by">,
): Promise<{ current: Buffer | null; previous: Buffer | null }> {
  if (row.signing_key_by === null) return { current: null, previous: null };
  const by = row.signing_key_by;
  const openOne = (sealed: Uint8Array | null) =>
    sealed === null ? null : keyring.openForOrg(row.org_id, by, sealed, signingKeyAad(row.id));
  const [current, previous] = await Promise.all([openOne(row.signing_key), openOne(row.prev_signing_key)]);
  return { current, previous };
}

/**
 * A row's signing key sealed with `org`'s active data key: a rotation keeps the old `k_sign`
 * as the previous one, and both must be sealed by the one key `signing_key_by` names.
 */
export async function resealSigningKey(
  keyring: Keyring,
  row: Pick<ApiKeysTable, "id" | "org_id" | "signing_key" | "signing_key_by">,
  org: OrgKeySet,
): Promise<Uint8Array | null> {
  if (row.signing_key === null || row.signing_key_by === null) return null;
  if (row.signing_key_by === org.dataKeyId) return row.signing_key;
  const aad = signingKeyAad(row.id);
  const plain = await keyring.openForOrg(row.org_id, row.signing_key_by, row.signing_key, aad);
  try {
    return seal(org.dataKey, plain, aad);
  } finally {
    plain.fill(0);
  }
}
