import type { Db } from "./db.ts";

/**
 * The org policy column (ADR 0010 §1): `orgs.policy`, JSON or null for the defaults.
 * `orgs` is not org-owned, so it is reached through the Db by id. A change is a
 * compare-and-set on the JSON read before it, so two concurrent changes of different
 * fields cannot drop one of them.
 */
export async function findPolicyJson(db: Db, orgId: string): Promise<{ policy: string | null } | undefined> {
  return db.kysely.selectFrom("orgs").select("policy").where("id", "=", orgId).executeTakeFirst();
}

/** Sets `orgs.policy` to `next` if it still holds `previous`; false when it changed meanwhile. */
export async function replacePolicyJson(
  db: Db,
  orgId: string,
  previous: string | null,
  next: string,
): Promise<boolean> {
  let q = db.kysely.updateTable("orgs").set({ policy: next }).where("id", "=", orgId);
  q = previous === null ? q.where("policy", "is", null) : q.where("policy", "=", previous);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
