/**
 * S/MIME encryption (ADR 0010 §5, RFC 8551): the content entity becomes CMS EnvelopedData
 * (RFC 5652) for one recipient certificate, in an `application/pkcs7-mime` message.
 *
 * - Content encryption AES-256-CBC: what every mail client and `openssl cms` decrypt
 *   (AES-GCM AuthEnvelopedData is not yet widely read).
 * - Key transport RSAES-OAEP with SHA-256 (and MGF1-SHA-256); the recipient is named by
 *   issuerAndSerialNumber. `openssl cms -decrypt` (OpenSSL 3.0, Debian 12) reads it.
 *
 * Built with pkijs on Node's WebCrypto, handed over as an engine object rather than set
 * globally. The whole entity is encrypted in one buffer (WebCrypto has no streaming cipher).
 */
import type { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import { Certificate, ContentInfo, CryptoEngine, EnvelopedData } from "pkijs";
import { ENCRYPTION_ERRORS } from "./errors.ts";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const MIN_RSA_BITS = 2048;
const AES_256_CBC: webcrypto.AesKeyGenParams = { name: "AES-CBC", length: 256 };

const engine = new CryptoEngine({ name: "node", crypto: globalThis.crypto });

/** The DER ContentInfo holding EnvelopedData of `entity` for the certificate's owner. */
export async function envelope(entity: Buffer, certificatePem: string): Promise<Buffer> {
  const certificate = parseCertificate(certificatePem);
  const enveloped = new EnvelopedData({ disableSplit: true });
  try {
    enveloped.addRecipientByCertificate(certificate, { oaepHashAlgorithm: "SHA-256" }, 1, engine);
    await enveloped.encrypt(AES_256_CBC, ownArrayBuffer(entity), engine);
    // RFC 5652 §6.1: no originatorInfo, no unprotectedAttrs, only v0 ktri: version 0
    // (pkijs always writes 2).
    enveloped.version = 0;
  } catch {
    throw new Error(ENCRYPTION_ERRORS.failed);
  }
  const info = new ContentInfo({
    contentType: ContentInfo.ENVELOPED_DATA,
    content: enveloped.toSchema(),
  });
  return Buffer.from(info.toSchema().toBER(false));
}

/** The bytes as an ArrayBuffer of their own: the buffer's own store when it spans it all. */
function ownArrayBuffer(data: Buffer): ArrayBuffer {
  const store = data.buffer;
  if (store instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === store.byteLength)
    return store;
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy.buffer;
}

/** The outer headers, the S/MIME headers and the base64 of `der`, CRLF throughout. */
export function smimeMessage(outer: Buffer, der: Buffer): Buffer {
  const head =
    "MIME-Version: 1.0\r\n" +
    'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n' +
    "Content-Transfer-Encoding: base64\r\n" +
    'Content-Disposition: attachment; filename="smime.p7m"\r\n' +
    "\r\n";
  return Buffer.concat([outer, Buffer.from(head, "latin1"), base64Lines(der)]);
}

/** Base64 in lines of 76 characters, each ending in CRLF (RFC 2045 §6.8). */
export function base64Lines(data: Buffer): Buffer {
  const b64 = data.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "latin1");
}

/**
 * The first certificate in the PEM text, if it carries an RSA key of at least 2048 bits.
 * Recipient keys were validated on upload (ADR 0010 §3); this guards against a row that
 * was not, without repeating the policy checks (expiry, SAN, key usage).
 */
function parseCertificate(pem: string): Certificate {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (match === null) throw new Error(ENCRYPTION_ERRORS.unusableCertificate);
  try {
    const der = Buffer.from((match[1] ?? "").replace(/\s+/g, ""), "base64");
    const certificate = Certificate.fromBER(der);
    const spki = certificate.subjectPublicKeyInfo;
    if (spki.algorithm.algorithmId !== RSA_ENCRYPTION) throw new Error("not RSA");
    const key = asn1js.fromBER(spki.subjectPublicKey.valueBlock.valueHexView);
    if (key.offset === -1 || !(key.result instanceof asn1js.Sequence)) throw new Error("bad key");
    const modulus = key.result.valueBlock.value[0];
    if (!(modulus instanceof asn1js.Integer)) throw new Error("bad key");
    if (modulusBits(modulus.valueBlock.valueHexView) < MIN_RSA_BITS) throw new Error("short key");
    return certificate;
  } catch {
    throw new Error(ENCRYPTION_ERRORS.unusableCertificate);
  }
}

function modulusBits(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  const first = bytes[i];
  if (first === undefined) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(first));
}
