import type { RecipientKeysTable } from "./schema.ts";
import { deleteOrg, insertOrg, type OrgScope, selectOrg } from "./scope.ts";

/**
 * The `recipient_keys` table (ADR 0010 §3): S/MIME certificates and OpenPGP public keys
 * on file for recipient addresses, found by the address's blind index. Org-owned: reached
 * through the scope helpers only.
 */

/** Inserts a key; false when the same key is on file already (the unique constraint). */
export async function insertRecipientKey(scope: OrgScope, row: RecipientKeysTable): Promise<boolean> {
  const inserted = await insertOrg(scope, "recipient_keys", [row])
    .onConflict((oc) => oc.columns(["org_id", "kind", "address_bidx", "fingerprint"]).doNothing())
    .returning("id")
    .execute();
  return inserted.length > 0;
}

export async function findRecipientKey(scope: OrgScope, id: string): Promise<RecipientKeysTable | undefined> {
  return selectOrg(scope, "recipient_keys").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The key on file for the same address, kind and fingerprint. */
export async function findSameRecipientKey(
  scope: OrgScope,
  key: { kind: string; address_bidx: string; fingerprint: string },
): Promise<RecipientKeysTable | undefined> {
  return selectOrg(scope, "recipient_keys")
    .selectAll()
    .where("kind", "=", key.kind as RecipientKeysTable["kind"])
    .where("address_bidx", "=", key.address_bidx)
    .where("fingerprint", "=", key.fingerprint)
    .executeTakeFirst();
}

/** Newest first, optionally of one address; `before` is the cursor id. */
export async function listRecipientKeys(
  scope: OrgScope,
  f: { addressBidx: string | undefined; before: string | undefined; limit: number },
): Promise<RecipientKeysTable[]> {
  let q = selectOrg(scope, "recipient_keys").selectAll();
  if (f.addressBidx !== undefined) q = q.where("address_bidx", "=", f.addressBidx);
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/** The keys of one address valid at `now` (no expiry or a later one), newest first: one indexed query. */
export async function validKeysOf(
  scope: OrgScope,
  addressBidx: string,
  now: number,
): Promise<RecipientKeysTable[]> {
  return selectOrg(scope, "recipient_keys")
    .selectAll()
    .where("address_bidx", "=", addressBidx)
    .where((eb) => eb.or([eb("not_after", "is", null), eb("not_after", ">", now)]))
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
}

/** Deletes a key; false when the org has no key of that id. */
export async function deleteRecipientKey(scope: OrgScope, id: string): Promise<boolean> {
  const res = await deleteOrg(scope, "recipient_keys").where("id", "=", id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
