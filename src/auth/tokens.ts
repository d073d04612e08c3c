import { createHash, timingSafeEqual } from "node:crypto";
import { newId, type RandomSource } from "../core/ids.ts";
import { pooledRandomBytes } from "../crypto/random.ts";
import { hmacSha256 } from "../crypto/secret-key.ts";

/**
 * API-key tokens (ADR 0008 §2): `sp_{live|test}_<26-char key ULID>_<43 base62>`. The whole
 * token is the secret; the key id `key_<ULID>` is not. At rest only
 * `hex(HMAC-SHA256(pepper, token))` is kept, so a dump of the database alone cannot test a
 * guess, not even against a weak bootstrap string.
 */

export const TOKEN_RE = /^sp_(live|test)_([0-9a-hjkmnp-tv-z]{26})_([0-9A-Za-z]{43})$/;
/** The bootstrap key (SEALPOST_BOOTSTRAP_KEY), and legacy tokens, may be any string this long. */
export const BOOTSTRAP_MIN = 32;
export const TOKEN_MAX = 256;
export const SECRET_CHARS = 43;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** 248 = 4·62: bytes below it map onto the alphabet evenly; the others are drawn again. */
const UNBIASED_BELOW = 248;

export type KeyMode = "live" | "test";

export interface ParsedToken {
  readonly mode: KeyMode;
  readonly keyId: string;
}

/**
 * `length` base62 characters without bias: every accepted byte (< 248) gives one character,
 * so 43 characters carry 43·log2(62) ≈ 256 bits. 32 bytes are drawn at a time; about 3 % are
 * refused, so one or two draws almost always suffice.
 */
export function randomBase62(length: number, random: RandomSource = pooledRandomBytes): string {
  let out = "";
  while (out.length < length) {
    for (const b of random(32)) {
      if (b >= UNBIASED_BELOW) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** The token for key `keyId` (`key_<ULID>`): a new key, or a rotation of an existing one. */
export function tokenFor(mode: KeyMode, keyId: string, random: RandomSource = pooledRandomBytes): string {
  return `sp_${mode}_${keyId.slice("key_".length)}_${randomBase62(SECRET_CHARS, random)}`;
}

/** A fresh key id and its token. */
export function newToken(
  mode: KeyMode,
  now: number,
  random: RandomSource = pooledRandomBytes,
): { id: string; token: string } {
  const id = newId("key", now);
  return { id, token: tokenFor(mode, id, random) };
}

/** The key id and mode of a new-format token; null for anything else (bootstrap, legacy, junk). */
export function parseToken(token: string): ParsedToken | null {
  const m = TOKEN_RE.exec(token);
  if (m === null) return null;
  return { mode: m[1] as KeyMode, keyId: `key_${m[2]}` };
}

/** The hash at rest of a token (hash_alg `hmac-sha256`). */
export function hashToken(pepper: Buffer, token: string): string {
  return hmacSha256(pepper).update(token, "utf8").digest("hex");
}

/** The unkeyed SHA-256 of keys made before migration 0006 (hash_alg `sha256`). */
/**
 * What an access token minted with one secret of a key carries (claim `kh`), so a token
 * minted with a secret that was rotated out dies with it: a one-way tag of the stored hash.
 */
export function secretBinding(storedHash: string): string {
  return createHash("sha256").update(`sp1-jwt-binding\n${storedHash}`).digest("base64url").slice(0, 22);
}

export function legacyHashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Compares two hex hashes in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "latin1");
  const y = Buffer.from(b, "latin1");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether a string could be a token at all (bounds every hash and lookup). */
export function tokenLengthOk(token: string): boolean {
  return token.length >= BOOTSTRAP_MIN && token.length <= TOKEN_MAX;
}
