import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { Keyring } from "../core/keyring.ts";

/**
 * Endpoint secrets and Standard Webhooks signatures (ADR 0011 §3). A secret is `whsec_` +
 * base64 of 32 random bytes, sealed with the org data key (AAD `whk:<id>` or
 * `whk:<id>:prev`), the sealing key's id in front (Keyring.sealOrgValue).
 */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export const secretAad = (webhookId: string, which: "current" | "prev") =>
  which === "current" ? `whk:${webhookId}` : `whk:${webhookId}:prev`;

export async function sealSecret(
  keyring: Keyring,
  orgId: string,
  secret: string,
  aad: string,
): Promise<Buffer> {
  return keyring.sealOrgValue(orgId, Buffer.from(secret, "utf8"), aad);
}

export async function openSecret(
  keyring: Keyring,
  orgId: string,
  stored: Uint8Array,
  aad: string,
): Promise<string> {
  return (await keyring.openOrgValue(orgId, stored, aad)).toString("utf8");
}

/**
 * The `webhook-signature` header: `v1,<base64>` under each secret, space-separated
 * (the current one first; during a rotation overlap also the previous one).
 */
export function signatureHeader(secrets: readonly string[], id: string, at: Date, body: string): string {
  return secrets.map((s) => new Webhook(s).sign(id, at, body)).join(" ");
}
