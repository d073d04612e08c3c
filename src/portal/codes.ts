import { randomInt, timingSafeEqual } from "node:crypto";
import { hmacSha256 } from "../crypto/secret-key.ts";

/**
 * One-time codes of the portal (ADR 0010 §6): 6 digits, valid 10 minutes, stored as an
 * HMAC-SHA256 under the org's index key and bound to the link id, so a stored hash is
 * useless for another link and cannot be brute-forced offline without the key.
 */
export const CODE_TTL_MS = 10 * 60_000;
const CODE_SHAPE = /^[0-9]{6}$/;

export function newCode(random: (max: number) => number = randomInt): string {
  return String(random(1_000_000)).padStart(6, "0");
}

export function codeHash(indexKey: Buffer, linkId: string, code: string): string {
  return hmacSha256(indexKey).update(`portal-code:${linkId}:${code}`, "utf8").digest("hex");
}

/** The typed code, spaces and dashes removed (phones group digits); null when it is no code. */
export function normalizeCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, "");
  return CODE_SHAPE.test(code) ? code : null;
}

/** Constant-time comparison of two hex hashes of the same length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}
