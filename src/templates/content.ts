/**
 * Sealing a template version's parts with the org data key (ADR 0011 §1), AAD
 * `tpl:<id>:<version>`: the JSON `{subject, text, html}`, with the sealing key's id in front
 * (Keyring.sealOrgValue).
 */
import type { Keyring } from "../core/keyring.ts";
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
  return keyring.sealOrgValue(orgId, plain, templateAad(id, version));
}

export async function openParts(
  keyring: Keyring,
  orgId: string,
  id: string,
  version: number,
  stored: Uint8Array,
): Promise<TemplateParts> {
  const plain = await keyring.openOrgValue(orgId, stored, templateAad(id, version));
  return JSON.parse(plain.toString("utf8")) as TemplateParts;
}
