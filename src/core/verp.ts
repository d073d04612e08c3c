import { timingSafeEqual } from "node:crypto";
import { hmacSha256 } from "../crypto/secret-key.ts";

/**
 * VERP return paths: each delivery's envelope sender is `b+<delivery id>-<tag>@bounce.<from
 * domain>`, so an asynchronous bounce (a DSN) names the delivery it is about. The tag is
 * an HMAC with the org's index key: forged bounces for other deliveries are refused.
 */
const VERP = /^b\+(dlv_[0-9a-z]{26})-([0-9a-z]{16})@bounce\.([a-z0-9.-]+)$/;

function tag(indexKey: Buffer, deliveryId: string): string {
  return hmacSha256(indexKey).update(`verp\0${deliveryId}`).digest("hex").slice(0, 16);
}

export function verpAddress(indexKey: Buffer, deliveryId: string, fromDomain: string): string {
  return `b+${deliveryId}-${tag(indexKey, deliveryId)}@bounce.${fromDomain}`;
}

export function parseVerp(address: string): { deliveryId: string; tag: string; domain: string } | null {
  const m = VERP.exec(address.toLowerCase());
  if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  return { deliveryId: m[1], tag: m[2], domain: m[3] };
}

export function verpTagValid(indexKey: Buffer, deliveryId: string, given: string): boolean {
  const want = Buffer.from(tag(indexKey, deliveryId));
  const got = Buffer.from(given);
  return want.length === got.length && timingSafeEqual(want, got);
}
