/**
 * OpenPGP encryption (ADR 0010 §5): the content entity is encrypted with `openpgp` v6 to
 * the recipient's key and sent as PGP/MIME (RFC 3156 §4): `multipart/encrypted` with the
 * version part and the ASCII-armored message.
 *
 * The entity is the literal data, as binary, so the recipient's client gets back exactly
 * the bytes of the MIME entity (CRLF and all). The whole entity is encrypted in one buffer.
 */
import { randomBytes } from "node:crypto";
import * as openpgp from "openpgp";
import { ENCRYPTION_ERRORS } from "./errors.ts";

/** The armored OpenPGP message of `entity` for the key's encryption (sub)key. */
export async function encryptArmored(entity: Buffer, armoredKey: string): Promise<string> {
  let key: openpgp.Key;
  try {
    key = (await openpgp.readKey({ armoredKey })).toPublic();
    // Throws when no (sub)key may encrypt now: expired, revoked, or signing-only.
    await key.getEncryptionKey();
  } catch {
    throw new Error(ENCRYPTION_ERRORS.unusablePgpKey);
  }
  try {
    const message = await openpgp.createMessage({ binary: new Uint8Array(entity), format: "binary" });
    return await openpgp.encrypt({ message, encryptionKeys: key, format: "armored" });
  } catch {
    throw new Error(ENCRYPTION_ERRORS.failed);
  }
}

/** The outer headers and the PGP/MIME body around `armored`, CRLF throughout. */
export function pgpMimeMessage(outer: Buffer, armored: string): Buffer {
  const boundary = `----=_sealpost_${randomBytes(18).toString("hex")}`;
  const armor = armored.replace(/\r?\n/g, "\r\n").replace(/(\r\n)?$/, "\r\n");
  const text =
    "MIME-Version: 1.0\r\n" +
    `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n boundary="${boundary}"\r\n` +
    "\r\n" +
    "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n" +
    `--${boundary}\r\n` +
    "Content-Type: application/pgp-encrypted\r\n" +
    "Content-Description: PGP/MIME version identification\r\n" +
    "\r\n" +
    "Version: 1\r\n" +
    "\r\n" +
    `--${boundary}\r\n` +
    'Content-Type: application/octet-stream; name="encrypted.asc"\r\n' +
    "Content-Description: OpenPGP encrypted message\r\n" +
    'Content-Disposition: inline; filename="encrypted.asc"\r\n' +
    "\r\n" +
    armor +
    "\r\n" +
    `--${boundary}--\r\n`;
  return Buffer.concat([outer, Buffer.from(text, "latin1")]);
}
