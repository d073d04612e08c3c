/**
 * Sealing a template version's parts with the org data key (ADR 0011 §1), AAD
 * `tpl:<id>:<version>`. `template_versions` has no column for the id of the data key that
 * sealed a row, so (as for recipient keys) the stored bytes carry it in front: one length
 * byte, the key id in ASCII, then the sealed JSON `{subject, text, html}`.
 */
import type { Keyring } from "../core/keyring.ts";
import { toBuffer } from "../store/db.ts";
import type { TemplateParts } from "./engine.ts";

export const templateAad = (id: string, version: number) => `tpl:${id}:${version}`;

export async function sealParts(
  keyring: Keyring,
  orgId: string,
  id: string,
  version: number,
  parts: TemplateParts,
): Promise<Buffer> {
  const plain = Buffer.from(JSON.stringify({ subject: parts.subject, text: parts.text, html: parts.html }));
  const { sealed, keyId } = await keyring.sealForOrg(orgId, plain, templateAad(id, version));
  const kid = Buffer.from(keyId, "ascii");
  return Buffer.concat([Buffer.from([kid.length]), kid, sealed]);
}

export async function openParts(
  keyring: Keyring,
  orgId: string,
  id: string,
  version: number,
  stored: Uint8Array,
): Promise<TemplateParts> {
  const buf = toBuffer(stored);
  const len = buf[0] ?? 0;
  const keyId = buf.subarray(1, 1 + len).toString("ascii");
  const plain = await keyring.openForOrg(orgId, keyId, buf.subarray(1 + len), templateAad(id, version));
  return JSON.parse(plain.toString("utf8")) as TemplateParts;
}
