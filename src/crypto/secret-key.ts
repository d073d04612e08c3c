import { createHmac, createSecretKey, type Hmac, type KeyObject } from "node:crypto";

/**
 * Key objects for long-lived secret keys (org index keys, the token pepper, data keys),
 * made once per key buffer. Given a Buffer, node:crypto first asks whether it is a
 * KeyObject by catching an exception, ~25 µs a call; given a KeyObject it does not. With
 * an HMAC or two per recipient and per request, that showed in the API's profile.
 */
const keyObjects = new WeakMap<Buffer, KeyObject>();

export function secretKeyOf(key: Buffer): KeyObject {
  let ko = keyObjects.get(key);
  if (ko === undefined) {
    ko = createSecretKey(key);
    keyObjects.set(key, ko);
  }
  return ko;
}

/** HMAC-SHA256 under a long-lived key. */
export function hmacSha256(key: Buffer): Hmac {
  return createHmac("sha256", secretKeyOf(key));
}
