import type { Db } from "./db.ts";
import type { SuppressionsTable } from "./schema.ts";

/** The org's suppression list, keyed by the address blind index. */
export async function insertSuppression(db: Db, row: SuppressionsTable): Promise<boolean> {
  const res = await db.kysely
    .insertInto("suppressions")
    .values(row)
    .onConflict((oc) => oc.columns(["org_id", "address_bidx"]).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function suppressedAmong(db: Db, orgId: string, bidxs: readonly string[]): Promise<Set<string>> {
  if (bidxs.length === 0) return new Set();
  const rows = await db.kysely
    .selectFrom("suppressions")
    .select("address_bidx")
    .where("org_id", "=", orgId)
    .where("address_bidx", "in", [...bidxs])
    .execute();
  return new Set(rows.map((r) => r.address_bidx));
}

export async function listSuppressions(
  db: Db,
  orgId: string,
  before: string | undefined,
  limit: number,
): Promise<SuppressionsTable[]> {
  let q = db.kysely.selectFrom("suppressions").selectAll().where("org_id", "=", orgId);
  if (before !== undefined) q = q.where("id", "<", before);
  return q.orderBy("id", "desc").limit(limit).execute();
}

export async function findSuppression(
  db: Db,
  orgId: string,
  bidx: string,
): Promise<SuppressionsTable | undefined> {
  return db.kysely
    .selectFrom("suppressions")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("address_bidx", "=", bidx)
    .executeTakeFirst();
}

export async function deleteSuppression(db: Db, orgId: string, bidx: string): Promise<boolean> {
  const res = await db.kysely
    .deleteFrom("suppressions")
    .where("org_id", "=", orgId)
    .where("address_bidx", "=", bidx)
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
