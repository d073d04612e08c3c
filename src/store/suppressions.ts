import type { SuppressionsTable } from "./schema.ts";
import { deleteOrg, insertOrg, type OrgScope, selectOrg } from "./scope.ts";

/** The org's suppression list, keyed by the address blind index. */
export async function insertSuppression(scope: OrgScope, row: SuppressionsTable): Promise<boolean> {
  const res = await insertOrg(scope, "suppressions", [row])
    .onConflict((oc) => oc.columns(["org_id", "address_bidx"]).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function suppressedAmong(scope: OrgScope, bidxs: readonly string[]): Promise<Set<string>> {
  if (bidxs.length === 0) return new Set();
  const rows = await selectOrg(scope, "suppressions")
    .select("address_bidx")
    .where("address_bidx", "in", [...bidxs])
    .execute();
  return new Set(rows.map((r) => r.address_bidx));
}

export async function listSuppressions(
  scope: OrgScope,
  before: string | undefined,
  limit: number,
): Promise<SuppressionsTable[]> {
  let q = selectOrg(scope, "suppressions").selectAll();
  if (before !== undefined) q = q.where("id", "<", before);
  return q.orderBy("id", "desc").limit(limit).execute();
}

export async function findSuppression(scope: OrgScope, bidx: string): Promise<SuppressionsTable | undefined> {
  return selectOrg(scope, "suppressions").selectAll().where("address_bidx", "=", bidx).executeTakeFirst();
}

export async function deleteSuppression(scope: OrgScope, bidx: string): Promise<boolean> {
  const res = await deleteOrg(scope, "suppressions").where("address_bidx", "=", bidx).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
