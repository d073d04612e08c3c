import { randomBytes } from "node:crypto";

/**
 * Time-ordered, prefixed identifiers: `msg_` + 10 chars of time + 16 chars of randomness,
 * Crockford base32 (ULID layout). Sorting ids sorts by creation time, which makes them
 * usable as pagination cursors.
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export type IdPrefix = "msg" | "dlv" | "evt" | "org" | "key" | "okey" | "att";

export type RandomSource = (size: number) => Buffer;

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Buffer): string {
  let out = "";
  for (let i = 0; i < 16; i++) out += ALPHABET[(bytes[i] ?? 0) & 31];
  return out;
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now(), random: RandomSource = randomBytes): string {
  return `${prefix}_${encodeTime(nowMs)}${encodeRandom(random(16))}`;
}

const ID_RE = /^[a-z]{3,4}_[0-9a-hjkmnp-tv-z]{26}$/;

export function isId(value: string, prefix: IdPrefix): boolean {
  return value.startsWith(`${prefix}_`) && ID_RE.test(value);
}
