import { KEY_BYTES, open, seal } from "./aead.ts";
import { CryptoError } from "./crypto-error.ts";
import type { MasterKey } from "./master-key.ts";

/**
 * What a key-management service plugs in behind. Callers store `keyId` next to every
 * wrapped key so a later rotation knows which wrapper can unwrap it. `aad` binds a
 * wrapped key to its owner; a KMS maps it to its own "encryption context".
 * `unwrap` rejects (with CryptoError for the local wrapper) on a wrong key, wrong aad or
 * tampered input.
 */
export interface KeyWrapper {
  readonly keyId: string;
  wrap(plain: Buffer, aad: string): Promise<Buffer>;
  unwrap(wrapped: Buffer, aad: string): Promise<Buffer>;
}

/** Wraps with the local master key (AES-256-GCM, see aead.ts). */
export function localKeyWrapper(master: MasterKey): KeyWrapper {
  if (master.key.length !== KEY_BYTES) throw new CryptoError(`master key must be ${KEY_BYTES} bytes`);
  // Copy, so a caller zeroing or reusing its buffer cannot change the wrapper's key.
  const key = Buffer.from(master.key);
  return {
    keyId: master.keyId,
    wrap: async (plain, aad) => seal(key, plain, aad),
    unwrap: async (wrapped, aad) => open(key, wrapped, aad),
  };
}
