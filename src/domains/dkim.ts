import { generateKeyPairSync, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { dkimSign } from "mailauth/lib/dkim/sign.js";
import { bodyParts, type MessageBody } from "../core/body.ts";

/**
 * DKIM keys and signing. Every sending domain gets two keys: RSA-2048 (what every
 * verifier understands) and Ed25519 (RFC 8463), and each message carries both signatures.
 */
export type DkimAlgorithm = "rsa" | "ed25519";

export interface GeneratedDkimKey {
  algorithm: DkimAlgorithm;
  selector: string;
  /** The p= value published in DNS. */
  publicKey: string;
  /** PKCS#8 PEM; stored only sealed. */
  privateKeyPem: string;
}

/** Selectors name the month and a random suffix, so a rotation never reuses one. */
export function newSelector(algorithm: DkimAlgorithm, now: number): string {
  const d = new Date(now);
  const month = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
  return `sp${month}${algorithm === "rsa" ? "r" : "e"}${randomBytes(3).toString("hex")}`;
}

export function generateDkimKey(algorithm: DkimAlgorithm, now: number): GeneratedDkimKey {
  if (algorithm === "rsa") {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      algorithm,
      selector: newSelector(algorithm, now),
      publicKey: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
      privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    };
  }
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  // RFC 8463: p= is the raw 32-byte public key, the tail of the SPKI encoding.
  const spki = publicKey.export({ format: "der", type: "spki" });
  return {
    algorithm,
    selector: newSelector(algorithm, now),
    publicKey: spki.subarray(spki.length - 32).toString("base64"),
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}

export function dkimTxtValue(algorithm: DkimAlgorithm, publicKey: string): string {
  return `v=DKIM1; k=${algorithm}; p=${publicKey}`;
}

export interface SigningKey {
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
}

const SIGNED_HEADERS = [
  "from",
  "to",
  "cc",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "list-unsubscribe",
  "list-unsubscribe-post",
];

/** Prepends one DKIM-Signature per key (RSA first, then Ed25519). */
/** The DKIM-Signature header lines for `raw` (empty without keys), each ending in CRLF. */
export async function dkimSignatures(
  raw: MessageBody,
  domain: string,
  keys: readonly SigningKey[],
  now: number,
): Promise<string> {
  if (keys.length === 0) return "";
  const result = await dkimSign(Buffer.isBuffer(raw) ? raw : Readable.from(raw), {
    signingDomain: domain,
    selector: keys[0]?.selector ?? "",
    privateKey: keys[0]?.privateKeyPem ?? "",
    canonicalization: "relaxed/relaxed",
    signTime: new Date(now),
    headerList: SIGNED_HEADERS,
    signatureData: keys.map((k) => ({
      signingDomain: domain,
      selector: k.selector,
      privateKey: k.privateKeyPem,
      algorithm: k.algorithm === "rsa" ? "rsa-sha256" : "ed25519-sha256",
      canonicalization: "relaxed/relaxed",
    })),
  });
  if (result.errors !== null && result.errors !== undefined && result.errors.length > 0)
    throw new Error("dkim signing failed");
  return result.signatures;
}

/** `raw` with its DKIM-Signature headers in front, as parts (nothing is copied). */
export async function signMessage(
  raw: MessageBody,
  domain: string,
  keys: readonly SigningKey[],
  now: number,
): Promise<Buffer[]> {
  return withSignatures(await dkimSignatures(raw, domain, keys, now), raw);
}

export function withSignatures(signatures: string, raw: MessageBody): Buffer[] {
  const parts = [...bodyParts(raw)];
  return signatures === "" ? parts : [Buffer.from(signatures, "utf8"), ...parts];
}
