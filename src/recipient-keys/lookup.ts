import type { Keyring } from "../core/keyring.ts";
import { normalizeAddress } from "../crypto/blind-index.ts";
import type { RecipientKey } from "../encryption/types.ts";
import type { Db } from "../store/db.ts";
import { validKeysOf } from "../store/recipient-keys.ts";
import { systemScope } from "../store/scope.ts";
import { materialAad, openRk } from "./sealed.ts";

/**
 * The keys on file for one address of an org that are valid at `now` (not expired),
 * newest first (ADR 0010 §3). An address that cannot be normalised has no keys.
 */
export async function keysForAddress(
  deps: { db: Db; keyring: Keyring },
  orgId: string,
  address: string,
  now: number,
): Promise<RecipientKey[]> {
  let normalized: string;
  try {
    normalized = normalizeAddress(address);
  } catch {
    return [];
  }
  return keysForIndex(deps, orgId, await deps.keyring.addressIndex(orgId, normalized), now);
}

/**
 * The same by the address's blind index, which a delivery row already carries
 * (`recipient_bidx`): the worker's step "protect" asks this per delivery, one query on the
 * `(org_id, address_bidx)` index, then the material of each key opened.
 */
export async function keysForIndex(
  deps: { db: Db; keyring: Keyring },
  orgId: string,
  bidx: string,
  now: number,
): Promise<RecipientKey[]> {
  const rows = await validKeysOf(systemScope(deps.db, orgId, "worker"), bidx, now);
  return Promise.all(
    rows.map(async (r) => ({
      id: r.id,
      kind: r.kind,
      material: await openRk(deps.keyring, orgId, r.material, materialAad(r.id)),
      fingerprint: r.fingerprint,
      notAfter: r.not_after,
    })),
  );
}
