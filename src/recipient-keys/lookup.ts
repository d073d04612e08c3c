import type { Keyring } from "../core/keyring.ts";
import type { RecipientKey } from "../encryption/types.ts";
import type { Db } from "../store/db.ts";

/**
 * The keys on file for one address of an org that are valid at `now` (not expired),
 * newest first (ADR 0010 §3). The worker's step "protect" asks this per delivery.
 *
 * Contract stub (ADR 0010 step 0): package B replaces the body.
 */
export async function keysForAddress(
  _deps: { db: Db; keyring: Keyring },
  _orgId: string,
  _address: string,
  _now: number,
): Promise<RecipientKey[]> {
  return [];
}
