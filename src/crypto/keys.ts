import { hkdfSync, randomBytes } from "node:crypto";
import type { RandomSource } from "../core/ids.ts";
import { KEY_BYTES, open, seal } from "./aead.ts";
import { CryptoError } from "./crypto-error.ts";

/**
 * Data keys (DEKs) encrypt content; key-encryption keys (KEKs) wrap DEKs. Both are
 * 32-byte AES-256 keys, and a wrapped DEK is an aead blob, so `aad` should name what
 * the DEK belongs to (for example `"dek:org_…"`) to stop a wrapped key being swapped
 * onto another owner.
 */
export function generateDataKey(random: RandomSource = randomBytes): Buffer {
  const key = random(KEY_BYTES);
  if (key.length !== KEY_BYTES) throw new CryptoError("random source returned the wrong number of bytes");
  return key;
}

export function wrapKey(kek: Buffer, dek: Buffer, aad: string, random?: RandomSource): Buffer {
  if (dek.length !== KEY_BYTES) throw new CryptoError(`data key must be ${KEY_BYTES} bytes`);
  return seal(kek, dek, aad, random);
}

export function unwrapKey(kek: Buffer, wrapped: Buffer, aad: string): Buffer {
  const dek = open(kek, wrapped, aad);
  if (dek.length !== KEY_BYTES) throw new CryptoError(`unwrapped data key is not ${KEY_BYTES} bytes`);
  return dek;
}

/**
 * Derives an independent 32-byte subkey (HKDF-SHA256) so one secret never serves two
 * algorithms, e.g. `deriveKey(dek, "sealpost blind-index")` for HMAC next to AES.
 */
export function deriveKey(ikm: Buffer, info: string): Buffer {
  if (ikm.length < KEY_BYTES) throw new CryptoError(`key material must be at least ${KEY_BYTES} bytes`);
  return Buffer.from(hkdfSync("sha256", ikm, Buffer.alloc(0), info, KEY_BYTES));
}
