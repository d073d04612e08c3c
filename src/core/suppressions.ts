import { normalizeAddress } from "../crypto/blind-index.ts";
import type { SuppressionsTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import { insertSuppression } from "../store/suppressions.ts";
import type { Clock } from "./clock.ts";
import { newId } from "./ids.ts";
import type { Keyring } from "./keyring.ts";

/**
 * Suppression: addresses that must not be mailed again (hard bounces, complaints,
 * unsubscribes, manual entries). Stored as a blind index for lookups plus the address
 * sealed with the org key for listing.
 */
export type SuppressionReason = SuppressionsTable["reason"];

export function suppressionAad(id: string): string {
  return `suppression:${id}`;
}

export async function suppressionRow(
  keyring: Keyring,
  clock: Clock,
  orgId: string,
  address: string,
  reason: SuppressionReason,
  deliveryId: string | null,
): Promise<SuppressionsTable> {
  const normalized = normalizeAddress(address);
  const id = newId("sup", clock.now());
  const sealed = await keyring.sealForOrg(orgId, Buffer.from(normalized), suppressionAad(id));
  return {
    id,
    org_id: orgId,
    address_bidx: await keyring.addressIndex(orgId, normalized),
    address: sealed.sealed,
    wrapped_by: sealed.keyId,
    reason,
    delivery_id: deliveryId,
    created_at: clock.now(),
  };
}

export async function suppress(
  deps: { keyring: Keyring; clock: Clock },
  scope: OrgScope,
  address: string,
  reason: SuppressionReason,
  deliveryId: string | null,
): Promise<boolean> {
  return insertSuppression(
    scope,
    await suppressionRow(deps.keyring, deps.clock, scope.orgId, address, reason, deliveryId),
  );
}

/**
 * Whether a permanent failure means the address itself is bad (RFC 3463 X.1.x addressing
 * status, X.2.1 mailbox disabled, or a null MX), so it should be suppressed. Policy and
 * content rejections (X.7.x, X.6.x, size) bounce the message but keep the address.
 */
export function isAddressFailure(replyCode: number | null, enhanced: string | null, reason: string): boolean {
  if (reason === "null_mx") return true;
  if (enhanced !== null) return /^5\.1\.\d+$/.test(enhanced) || enhanced === "5.2.1";
  return replyCode === 550 || replyCode === 551 || replyCode === 553;
}
