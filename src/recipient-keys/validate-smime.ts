import { createHash, createPublicKey } from "node:crypto";
import type { BitString } from "asn1js";
import { fromBER } from "asn1js";
import type { AltName, ExtKeyUsage } from "pkijs";
import { Certificate } from "pkijs";
import { keyIdOf, refuse, sameAddress, type ValidatedKey } from "./key-facts.ts";

/**
 * S/MIME certificate checks (ADR 0010 §3): one X.509 certificate (PEM or base64 DER),
 * valid now, naming the address in its SAN rfc822Name entries (or, without a SAN, its
 * subject emailAddress), an RSA key of at least 2048 bits (key transport here is RSA), and
 * key usages that allow encrypting mail to it. Parsed with pkijs (on asn1js): its
 * structures need no global polyfill, unlike @peculiar/x509's dependency injection.
 */
const FIELD = "certificate";
const MIN_RSA_BITS = 2048;
const EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4";
const ANY_EKU = "2.5.29.37.0";
const EMAIL_ADDRESS_OID = "1.2.840.113549.1.9.1";
const SAN_OID = "2.5.29.17";
const KEY_USAGE_OID = "2.5.29.15";
const EKU_OID = "2.5.29.37";
/** GeneralName's rfc822Name choice. */
const RFC822_NAME = 1;
/** keyEncipherment is bit 2 of KeyUsage: 0x20 in the first byte. */
const KEY_ENCIPHERMENT = 0x20;
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----/g;

/** The DER of the one certificate in `text`; refuses private keys, bundles and anything else. */
function certificateDer(text: string): Buffer {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
    throw refuse(FIELD, "A private key was submitted; submit the certificate only.");
  if (text.includes("-----BEGIN")) {
    const blocks = [...text.matchAll(PEM_BLOCK)];
    const rest = text.replace(PEM_BLOCK, "").trim();
    if (blocks.length !== 1 || blocks[0]?.[1] !== "CERTIFICATE" || rest !== "")
      throw refuse(FIELD, "Submit exactly one certificate.");
    return Buffer.from((blocks[0][2] ?? "").replace(/\s+/g, ""), "base64");
  }
  if (!BASE64.test(text)) throw refuse(FIELD, "The certificate is neither PEM nor base64 DER.");
  return Buffer.from(text.replace(/\s+/g, ""), "base64");
}

function parse(der: Buffer): Certificate {
  try {
    const asn = fromBER(new Uint8Array(der));
    if (asn.offset !== der.length) throw new Error("not one DER structure");
    return new Certificate({ schema: asn.result });
  } catch (err) {
    throw refuse(FIELD, "The certificate cannot be parsed as X.509.", err);
  }
}

function checkValidity(cert: Certificate, now: number): void {
  if (now < cert.notBefore.value.getTime()) throw refuse(FIELD, "The certificate is not valid yet.");
  if (now >= cert.notAfter.value.getTime()) throw refuse(FIELD, "The certificate has expired.");
}

function extension(cert: Certificate, oid: string): unknown {
  const ext = cert.extensions?.find((e) => e.extnID === oid);
  if (ext === undefined) return undefined;
  if (ext.parsedValue === undefined) throw refuse(FIELD, "A certificate extension cannot be parsed.");
  return ext.parsedValue;
}

/** The rfc822Name entries of the SAN, or (no SAN) the subject's emailAddress attributes. */
function emailsOf(cert: Certificate): string[] {
  const san = extension(cert, SAN_OID) as AltName | undefined;
  if (san !== undefined)
    return san.altNames.filter((n) => n.type === RFC822_NAME).map((n) => String(n.value));
  return cert.subject.typesAndValues
    .filter((tv) => tv.type === EMAIL_ADDRESS_OID)
    .map((tv) => String(tv.value.valueBlock.value));
}

/** `rsa-<bits>`; refuses other key types and short keys. */
function rsaAlgorithm(cert: Certificate): string {
  let key: ReturnType<typeof createPublicKey>;
  try {
    const spki = Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER());
    key = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch (err) {
    throw refuse(FIELD, "The certificate's public key cannot be read.", err);
  }
  if (key.asymmetricKeyType !== "rsa")
    throw refuse(FIELD, "The certificate's key must be RSA (S/MIME key transport here is RSA).");
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw refuse(FIELD, "The certificate's RSA key is shorter than 2048 bits.");
  return `rsa-${bits}`;
}

function checkUsages(cert: Certificate): void {
  const ku = extension(cert, KEY_USAGE_OID) as BitString | undefined;
  if (ku !== undefined && ((ku.valueBlock.valueHexView[0] ?? 0) & KEY_ENCIPHERMENT) === 0)
    throw refuse(FIELD, "The certificate's key usage does not allow key encipherment.");
  const eku = extension(cert, EKU_OID) as ExtKeyUsage | undefined;
  if (eku !== undefined && !eku.keyPurposes.some((p) => p === EMAIL_PROTECTION || p === ANY_EKU))
    throw refuse(FIELD, "The certificate's extended key usage does not include email protection.");
}

/** PEM of a DER certificate, 64 characters a line. */
function pemOf(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

export function validateSmimeCertificate(text: string, address: string, now: number): ValidatedKey {
  const der = certificateDer(text.trim());
  if (der.length === 0) throw refuse(FIELD, "The certificate is empty.");
  const cert = parse(der);
  checkValidity(cert, now);
  if (!emailsOf(cert).some((e) => sameAddress(e, address)))
    throw refuse(FIELD, "The certificate does not name this address.");
  const algorithm = rsaAlgorithm(cert);
  checkUsages(cert);
  const fingerprint = createHash("sha256").update(der).digest("hex");
  return {
    kind: "smime",
    fingerprint,
    keyId: keyIdOf(fingerprint),
    algorithm,
    notAfter: cert.notAfter.value.getTime(),
    material: pemOf(der),
  };
}
