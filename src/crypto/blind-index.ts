import { domainToASCII } from "node:url";
import { SealpostError } from "../core/errors.ts";
import { CryptoError } from "./crypto-error.ts";
import { hmacSha256 } from "./secret-key.ts";

/**
 * Blind indexes let the store find rows by address or domain while the address itself
 * is only stored encrypted: the index is a keyed HMAC, useless without the key.
 *
 * Lookups are case-insensitive in both halves of an address. RFC 5321 lets a server
 * treat the local part as case-sensitive, but no mainstream one does, and a suppression
 * or lookup that misses `Jane@` because it stored `jane@` is the worse failure.
 */
export type BlindIndexPurpose = "address" | "domain";

/** 20 bytes (160 bits): collisions are negligible and the index stays short (27 chars). */
const INDEX_BYTES = 20;
const MIN_KEY_BYTES = 32;

function invalid(): SealpostError {
  return new SealpostError("invalid_address", { detail: "The address must be local-part@domain." });
}

/**
 * Lowercases a domain and converts IDNs to their ASCII (punycode) form, so `Bücher.DE`
 * and `xn--bcher-kva.de` index the same. One trailing dot is dropped. Address literals
 * (`[192.0.2.1]`, `[IPv6:…]`) are kept, lowercased.
 */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().replace(/\.$/, "");
  if (d.startsWith("[") && d.endsWith("]") && d.length > 2) return d.toLowerCase();
  const ascii = domainToASCII(d);
  if (ascii === "" || ascii.split(".").some((label) => label === "")) throw invalid();
  return ascii;
}

/**
 * Trims, lowercases the local part (Unicode NFC first) and normalizes the domain as
 * `normalizeDomain` does. The split is at the last `@`, so quoted local parts that
 * contain `@` survive. Throws `invalid_address` (without echoing the input) when there
 * is no local part or no valid domain; it is not a full RFC 5322 validator.
 */
export function normalizeAddress(addr: string): string {
  const a = addr.trim();
  const at = a.lastIndexOf("@");
  if (at <= 0 || at === a.length - 1) throw invalid();
  const local = a.slice(0, at).normalize("NFC").toLowerCase();
  return `${local}@${normalizeDomain(a.slice(at + 1))}`;
}

/** The normalized domain of an address. */
export function addressDomain(addr: string): string {
  const normalized = normalizeAddress(addr);
  return normalized.slice(normalized.lastIndexOf("@") + 1);
}

/**
 * base64url(HMAC-SHA256(key, purpose + "\0" + value)) truncated to 20 bytes. The value is
 * normalized first (as an address or a domain, by purpose), so callers may pass it raw
 * and `Jane@Example.com` and `jane@example.com` give the same index. Use a key derived
 * for this purpose (see `deriveKey`), not an encryption key.
 */
export function blindIndex(key: Buffer, value: string, purpose: BlindIndexPurpose): string {
  if (key.length < MIN_KEY_BYTES)
    throw new CryptoError(`blind index key must be at least ${MIN_KEY_BYTES} bytes`);
  const normalized = purpose === "address" ? normalizeAddress(value) : normalizeDomain(value);
  const mac = hmacSha256(key).update(`${purpose}\0${normalized}`, "utf8").digest();
  return mac.subarray(0, INDEX_BYTES).toString("base64url");
}
