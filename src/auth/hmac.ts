import { createHash, createHmac, type Hash, timingSafeEqual } from "node:crypto";
import { isId } from "../core/ids.ts";
import type { Credentials, SignedRequest } from "./types.ts";

/**
 * SP1-HMAC-SHA256 request signing (ADR 0008 §4, docs/authentication.md):
 *
 *   Authorization:  SP1-HMAC-SHA256 KeyId=<id>, Timestamp=<unix s>, Nonce=<nonce>, Signature=<hex>
 *   Content-Digest: sha-256=:<base64 SHA-256 of the body>:          (RFC 9530)
 *
 * The signature is hex(HMAC-SHA256(k_sign, canonical)), where k_sign is derived from the
 * token and canonical is seven lines: the scheme, the three parameters, the method, the
 * request target as sent and the Content-Digest value. This module holds only the pure
 * primitives; the authenticator checks the window, the key, the nonce and the digest.
 */

export const HMAC_SCHEME = "SP1-HMAC-SHA256";
/** A signature's timestamp may differ from the server clock by this much either way. */
export const HMAC_WINDOW_MS = 300_000;

export type HmacCredentials = Extract<Credentials, { kind: "hmac" }>;

const SIGNING_KEY_INFO = "sp1-request-signing";
const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;
/** No leading zeros: the canonical string repeats the number, so it must read back the same. */
const TIMESTAMP_RE = /^(?:0|[1-9][0-9]{0,11})$/;
const SIGNATURE_RE = /^[0-9a-f]{64}$/;
const PARAM_RE = /^([A-Za-z]+)=(?:"([^"\\]*)"|([^\s",]*))$/;
const PARAM_NAMES = ["keyid", "timestamp", "nonce", "signature"] as const;
type ParamName = (typeof PARAM_NAMES)[number];

const MALFORMED: Credentials = { kind: "malformed", code: "signature_malformed" };

/** `k_sign = HMAC-SHA256(key = token, "sp1-request-signing")`: the database keeps this, never the token. */
export function deriveSigningKey(token: string): Buffer {
  return createHmac("sha256", token).update(SIGNING_KEY_INFO).digest();
}

/**
 * Parses an `Authorization` value, with or without the leading scheme. Each of KeyId,
 * Timestamp, Nonce and Signature must appear exactly once (in any order; names are
 * case-insensitive, values may be quoted, as RFC 9110 §11.2 allows) and nothing else may.
 */
export function parseHmacAuthorization(value: string): Credentials {
  let rest = value.trim();
  const space = rest.search(/[ \t]/);
  if (space > 0 && rest.slice(0, space).toUpperCase() === HMAC_SCHEME) rest = rest.slice(space).trim();
  const params = parseParams(rest);
  if (params === undefined) return MALFORMED;
  const { keyid, timestamp, nonce, signature } = params;
  if (!isId(keyid, "key") || !TIMESTAMP_RE.test(timestamp) || !NONCE_RE.test(nonce)) return MALFORMED;
  if (!SIGNATURE_RE.test(signature)) return MALFORMED;
  return { kind: "hmac", keyId: keyid, timestamp: Number(timestamp), nonce, signature };
}

function parseParams(text: string): Record<ParamName, string> | undefined {
  const found = new Map<ParamName, string>();
  for (const part of text.split(",")) {
    const match = PARAM_RE.exec(part.trim());
    if (match === null) return undefined;
    const name = (match[1] ?? "").toLowerCase();
    if (!isParamName(name) || found.has(name)) return undefined;
    found.set(name, match[2] ?? match[3] ?? "");
  }
  const keyid = found.get("keyid");
  const timestamp = found.get("timestamp");
  const nonce = found.get("nonce");
  const signature = found.get("signature");
  if (keyid === undefined || timestamp === undefined || nonce === undefined || signature === undefined) {
    return undefined;
  }
  return { keyid, timestamp, nonce, signature };
}

function isParamName(name: string): name is ParamName {
  return (PARAM_NAMES as readonly string[]).includes(name);
}

/** The seven signed lines, joined by "\n" (no trailing newline). */
export function canonicalRequest(c: HmacCredentials, r: SignedRequest): string {
  return [
    HMAC_SCHEME,
    c.keyId,
    String(c.timestamp),
    c.nonce,
    r.method.toUpperCase(),
    r.url,
    r.contentDigest ?? "",
  ].join("\n");
}

/** The hex signature of a request; `c.signature` is ignored. */
export function signRequest(kSign: Buffer, c: HmacCredentials, r: SignedRequest): string {
  return createHmac("sha256", kSign).update(canonicalRequest(c, r)).digest("hex");
}

/** Whether `c.signature` signs the request under `kSign`, compared in constant time. */
export function verifySignature(kSign: Buffer, c: HmacCredentials, r: SignedRequest): boolean {
  const expected = Buffer.from(signRequest(kSign, c, r), "latin1");
  const given = Buffer.from(c.signature, "latin1");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The Authorization value for credentials whose `signature` is set (clients and tests). */
export function formatHmacAuthorization(c: HmacCredentials): string {
  return `${HMAC_SCHEME} KeyId=${c.keyId}, Timestamp=${c.timestamp}, Nonce=${c.nonce}, Signature=${c.signature}`;
}

function digestValue(hash: Hash): string {
  return `sha-256=:${hash.digest("base64")}:`;
}

/** The Content-Digest value of a body: `sha-256=:<base64>:`. */
export function contentDigestHeader(body: Buffer): string {
  return digestValue(createHash("sha256").update(body));
}

/** Hashes a body as it streams past; `digest()` gives the Content-Digest value. */
export function createDigestHasher(): { update(chunk: Buffer): void; digest(): string } {
  const hash = createHash("sha256");
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    digest: () => digestValue(hash),
  };
}

/**
 * Whether the Content-Digest header carries `computed` as its sha-256 member. The header
 * is an RFC 8941 dictionary and may list other algorithms too; only sha-256 counts.
 */
export function contentDigestMatches(header: string | null, computed: string): boolean {
  if (header === null) return false;
  const members = header.split(",").map((m) => m.trim());
  const sha256 = members.filter((m) => m.toLowerCase().startsWith("sha-256="));
  return sha256.length === 1 && sha256[0] === computed;
}
