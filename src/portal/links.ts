import { createHash, randomBytes } from "node:crypto";

/**
 * Portal link tokens (ADR 0010 §6): 32 random bytes, base64url (43 characters), carried only
 * in the notice. The store keeps the SHA-256 hex of the token, so a copy of the database
 * opens no link.
 */
export const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const DAY_MS = 86_400_000;

export function newToken(random: (size: number) => Buffer = randomBytes): string {
  return random(TOKEN_BYTES).toString("base64url");
}

/** Whether `value` can be a token at all: anything else is an unknown link without a lookup. */
export function isTokenShape(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

export function tokenHash(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function linkExpiry(now: number, linkDays: number): number {
  return now + linkDays * DAY_MS;
}

/** The link the notice carries: `${publicUrl}/portal/<token>` (no trailing slash doubled). */
export function portalUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/portal/${token}`;
}
