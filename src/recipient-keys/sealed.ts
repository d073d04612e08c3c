import type { Keyring } from "../core/keyring.ts";

/**
 * Sealing a recipient key's address and material with the org data key (ADR 0010 §3);
 * the sealing key's id travels with the bytes (Keyring.sealOrgValue).
 */
export const addressAad = (id: string) => `rk:${id}`;
export const materialAad = (id: string) => `rk:${id}:material`;

export async function sealRk(keyring: Keyring, orgId: string, plain: string, aad: string): Promise<Buffer> {
  return keyring.sealOrgValue(orgId, Buffer.from(plain, "utf8"), aad);
}

export async function openRk(
  keyring: Keyring,
  orgId: string,
  stored: Uint8Array,
  aad: string,
): Promise<string> {
  return (await keyring.openOrgValue(orgId, stored, aad)).toString("utf8");
}
