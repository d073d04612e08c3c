import { timingSafeEqual } from "node:crypto";
import { hmacSha256 } from "../crypto/secret-key.ts";

/**
 * The token of an open-tracking pixel (ADR 0011 §6): it names the org and the message and
 * carries an HMAC of both under the org's index key, so nobody can make a token for a
 * message they did not receive, and a token from one org is worthless in another. The
 * pixel is per message (rendered once, shared by its recipients), so the token is too.
 *
 * Shape: `<org id>_<message id>_<32 hex>`, only characters that need no escaping in a URL.
 */
const TOKEN = /^(org_[0-9a-z]{26})_(msg_[0-9a-z]{26})_([0-9a-f]{32})$/;

function mac(indexKey: Buffer, orgId: string, messageId: string): string {
  return hmacSha256(indexKey).update(`open\0${orgId}\0${messageId}`).digest("hex").slice(0, 32);
}

export function openToken(indexKey: Buffer, orgId: string, messageId: string): string {
  return `${orgId}_${messageId}_${mac(indexKey, orgId, messageId)}`;
}

export interface ParsedOpenToken {
  orgId: string;
  messageId: string;
  mac: string;
}

/** The parts of a well-formed token; null for anything else. Says nothing about its validity. */
export function parseOpenToken(token: string): ParsedOpenToken | null {
  const m = TOKEN.exec(token);
  if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  return { orgId: m[1], messageId: m[2], mac: m[3] };
}

export function openTokenValid(indexKey: Buffer, t: ParsedOpenToken): boolean {
  const want = Buffer.from(mac(indexKey, t.orgId, t.messageId));
  const got = Buffer.from(t.mac);
  return want.length === got.length && timingSafeEqual(want, got);
}
