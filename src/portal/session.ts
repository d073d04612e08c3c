import { createHash, createHmac, randomBytes } from "node:crypto";
import { sameHash } from "./codes.ts";

/**
 * The portal session (ADR 0010 §6): after a right code, a random cookie `sp_portal`
 * (HttpOnly, SameSite=Strict, Path=/portal/<token>, Secure on HTTPS) valid 30 minutes; the
 * store keeps its SHA-256. POST forms carry a CSRF token derived from the session value, so
 * only a page served to the session can post for it.
 */
export const SESSION_COOKIE = "sp_portal";
export const SESSION_TTL_MS = 30 * 60_000;

export function newSession(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString("base64url");
}

export function sessionHash(session: string): string {
  return createHash("sha256").update(session, "utf8").digest("hex");
}

export function csrfToken(session: string): string {
  return createHmac("sha256", Buffer.from(session, "utf8")).update("portal-csrf").digest("base64url");
}

export function csrfValid(session: string, token: string): boolean {
  return sameHash(csrfToken(session), token);
}

export function sessionCookie(value: string, token: string, secure: boolean): string {
  const attrs = [
    `${SESSION_COOKIE}=${value}`,
    `Path=/portal/${token}`,
    `Max-Age=${SESSION_TTL_MS / 1000}`,
    "HttpOnly",
    "SameSite=Strict",
  ];
  if (secure) attrs.push("Secure");
  return attrs.join("; ");
}

/** The session cookie's value from a Cookie header, or null. */
export function sessionFromCookies(header: string | undefined): string | null {
  if (header === undefined) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
    }
  }
  return null;
}
