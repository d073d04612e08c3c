import {
  type Cipheriv,
  createCipheriv,
  createDecipheriv,
  type Decipheriv,
  type KeyObject,
} from "node:crypto";
import type { RandomSource } from "../core/ids.ts";
import { CryptoError } from "./crypto-error.ts";
import { pooledRandomBytes } from "./random.ts";
import { secretKeyOf } from "./secret-key.ts";

/**
 * AES-256-GCM with a versioned envelope:
 *
 *     0x01 | iv (12 random bytes) | ciphertext | tag (16 bytes)
 *
 * `aad` binds a blob to its context (for example `"msg_…:body"`), so a blob copied to
 * another row or field fails to open. Random 96-bit IVs are safe for well under 2^32
 * messages per key; keys here are per-org data keys, far below that bound.
 */
export const AEAD_VERSION = 0x01;
export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES;
/** The size of a sealed empty plaintext; every sealed blob is at least this long. */
export const SEAL_OVERHEAD = HEADER_BYTES + TAG_BYTES;

function checkKey(key: Buffer): KeyObject {
  if (key.length !== KEY_BYTES) throw new CryptoError(`AEAD key must be ${KEY_BYTES} bytes`);
  return secretKeyOf(key);
}

/**
 * Runs `input` through the cipher into `out` at `offset`, a slice at a time, so a 25 MB
 * attachment costs one output buffer rather than an output plus a copy of it (GCM is a
 * stream mode: every update returns as many bytes as it was given).
 */
const SLICE_BYTES = 1 << 20;
function cryptInto(c: Cipheriv | Decipheriv, input: Buffer, out: Buffer, offset: number): number {
  let at = offset;
  for (let i = 0; i < input.length; i += SLICE_BYTES) {
    const part = c.update(input.subarray(i, i + SLICE_BYTES));
    at += part.copy(out, at);
  }
  at += c.final().copy(out, at);
  return at;
}

export function seal(
  key: Buffer,
  plaintext: Buffer,
  aad: string,
  random: RandomSource = pooledRandomBytes,
): Buffer {
  const ko = checkKey(key);
  const iv = random(IV_BYTES);
  if (iv.length !== IV_BYTES) throw new CryptoError(`random source returned ${iv.length} bytes for the IV`);
  const cipher = createCipheriv("aes-256-gcm", ko, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const out = Buffer.allocUnsafe(HEADER_BYTES + plaintext.length + TAG_BYTES);
  out[0] = AEAD_VERSION;
  iv.copy(out, 1);
  const end = cryptInto(cipher, plaintext, out, HEADER_BYTES);
  cipher.getAuthTag().copy(out, end);
  return out;
}

export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const ko = checkKey(key);
  if (sealed.length < SEAL_OVERHEAD) throw new CryptoError("sealed data is truncated");
  if (sealed[0] !== AEAD_VERSION) throw new CryptoError("sealed data has an unknown version");
  const iv = sealed.subarray(1, HEADER_BYTES);
  const ciphertext = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", ko, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(tag);
    const out = Buffer.allocUnsafe(ciphertext.length);
    try {
      cryptInto(decipher, ciphertext, out, 0);
    } catch (err) {
      out.fill(0); // unauthenticated plaintext never outlives the failure
      throw err;
    }
    return out;
  } catch (err) {
    // OpenSSL's message ("unable to authenticate data") carries no secrets; keep it as cause.
    throw new CryptoError("sealed data failed authentication (wrong key, wrong context or tampered)", {
      cause: err,
    });
  }
}

export function sealString(key: Buffer, text: string, aad: string, random?: RandomSource): Buffer {
  return seal(key, Buffer.from(text, "utf8"), aad, random);
}

export function openString(key: Buffer, sealed: Buffer, aad: string): string {
  return open(key, sealed, aad).toString("utf8");
}

export function sealJson(key: Buffer, value: unknown, aad: string, random?: RandomSource): Buffer {
  // JSON.stringify returns undefined (despite its type) for undefined, functions and symbols.
  const text: string | undefined = JSON.stringify(value);
  if (text === undefined) throw new CryptoError("value is not JSON-serialisable");
  return sealString(key, text, aad, random);
}

/**
 * Opens a blob sealed by `sealJson`. `T` is trusted, not checked: authentication proves
 * that sealpost wrote the blob, so its shape is what the writer sealed.
 */
export function openJson<T>(key: Buffer, sealed: Buffer, aad: string): T {
  const text = openString(key, sealed, aad);
  try {
    return JSON.parse(text) as T;
  } catch {
    // No cause: V8's SyntaxError message quotes the start of the (secret) text.
    throw new CryptoError("sealed data is not JSON");
  }
}
