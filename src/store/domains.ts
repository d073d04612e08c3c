import type { Db } from "./db.ts";
import type { DkimKeysTable, DomainsTable } from "./schema.ts";

/** Sending domains and their DKIM keys; every query is scoped by org. */
export async function insertDomain(
  db: Db,
  domain: DomainsTable,
  keys: readonly DkimKeysTable[],
): Promise<void> {
  await db.kysely.transaction().execute(async (trx) => {
    await trx.insertInto("domains").values(domain).execute();
    await trx
      .insertInto("dkim_keys")
      .values([...keys])
      .execute();
  });
}

export async function findDomain(db: Db, orgId: string, id: string): Promise<DomainsTable | undefined> {
  return db.kysely
    .selectFrom("domains")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .executeTakeFirst();
}

export async function findDomainByName(
  db: Db,
  orgId: string,
  name: string,
): Promise<DomainsTable | undefined> {
  return db.kysely
    .selectFrom("domains")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("name", "=", name)
    .executeTakeFirst();
}

export async function listDomains(db: Db, orgId: string): Promise<DomainsTable[]> {
  return db.kysely.selectFrom("domains").selectAll().where("org_id", "=", orgId).orderBy("name").execute();
}

export async function updateDomainCheck(
  db: Db,
  orgId: string,
  id: string,
  set: { status: DomainsTable["status"]; verified_at: number | null; last_check: string },
): Promise<void> {
  await db.kysely.updateTable("domains").set(set).where("org_id", "=", orgId).where("id", "=", id).execute();
}

/** Keys of a domain that are current (active=1) or waiting to take over (active=0, not retired). */
export async function dkimKeysOf(db: Db, orgId: string, domainId: string): Promise<DkimKeysTable[]> {
  return db.kysely
    .selectFrom("dkim_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("domain_id", "=", domainId)
    .where("retired_at", "is", null)
    .orderBy("created_at")
    .execute();
}

export async function insertDkimKeys(db: Db, keys: readonly DkimKeysTable[]): Promise<void> {
  await db.kysely
    .insertInto("dkim_keys")
    .values([...keys])
    .execute();
}

/** Makes the waiting keys current and retires the ones they replace, in one transaction. */
export async function promoteDkimKeys(db: Db, orgId: string, domainId: string, now: number): Promise<void> {
  await db.kysely.transaction().execute(async (trx) => {
    await trx
      .updateTable("dkim_keys")
      .set({ retired_at: now })
      .where("org_id", "=", orgId)
      .where("domain_id", "=", domainId)
      .where("active", "=", 1)
      .where("retired_at", "is", null)
      .execute();
    await trx
      .updateTable("dkim_keys")
      .set({ active: 1 })
      .where("org_id", "=", orgId)
      .where("domain_id", "=", domainId)
      .where("active", "=", 0)
      .where("retired_at", "is", null)
      .execute();
  });
}
