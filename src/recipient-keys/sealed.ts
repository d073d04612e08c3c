import type { Keyring } from "../core/keyring.ts";
import { toBuffer } from "../store/db.ts";

/**
 * Sealing a recipient key's address and material with the org data key (ADR 0010 §3).
 * `recipient_keys` has no column for the id of the data key that sealed a row (other
 * tables have `wrapped_by`), so the stored bytes carry it in front: one length byte, the
 * key id in ASCII, then the sealed bytes. A rotated org key then still opens old rows.
 */
export const addressAad = (id: string) => `rk:${id}`;
export const materialAad = (id: string) => `rk:${id}:material`;

export async function sealRk(keyring: Keyring, orgId: string, plain: string, aad: string): Promise<Buffer> {
  const { sealed, keyId } = await keyring.sealForOrg(orgId, Buffer.from(plain, "utf8"), aad);
  const id = Buffer.from(keyId, "ascii");
  return Buffer.concat([Buffer.from([id.length]), id, sealed]);
}

export async function openRk(
  keyring: Keyring,
  orgId: string,
  stored: Uint8Array,
  aad: string,
): Promise<string> {
  const buf = toBuffer(stored);
  const len = buf[0] ?? 0;
  const keyId = buf.subarray(1, 1 + len).toString("ascii");
  const plain = await keyring.openForOrg(orgId, keyId, buf.subarray(1 + len), aad);
  return plain.toString("utf8");
}
