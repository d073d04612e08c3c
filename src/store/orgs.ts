import type { Db } from "./db.ts";
import type { OrgKeysTable, OrgsTable } from "./schema.ts";

/** Organizations and their wrapped keys (API keys: store/api-keys.ts). */

export async function findOrgByName(db: Db, name: string): Promise<OrgsTable | undefined> {
  return db.kysely.selectFrom("orgs").selectAll().where("name", "=", name).executeTakeFirst();
}

export async function findOrg(db: Db, id: string): Promise<OrgsTable | undefined> {
  return db.kysely.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Every org, oldest first (instance administration). */
export async function listOrgs(db: Db): Promise<OrgsTable[]> {
  return db.kysely.selectFrom("orgs").selectAll().orderBy("id").execute();
}

/** Creates the org and its keys in one transaction; a concurrent creator wins and this returns theirs. */
export async function insertOrg(db: Db, org: OrgsTable, keys: readonly OrgKeysTable[]): Promise<OrgsTable> {
  try {
    await db.kysely.transaction().execute(async (trx) => {
      await trx.insertInto("orgs").values(org).execute();
      await trx
        .insertInto("org_keys")
        .values([...keys])
        .execute();
    });
    return org;
  } catch (err) {
    const existing = await findOrgByName(db, org.name);
    if (existing !== undefined) return existing;
    throw err;
  }
}

export async function activeOrgKeys(db: Db, orgId: string): Promise<OrgKeysTable[]> {
  return db.kysely
    .selectFrom("org_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("active", "=", 1)
    .execute();
}

export async function findOrgKey(db: Db, orgId: string, keyId: string): Promise<OrgKeysTable | undefined> {
  return db.kysely
    .selectFrom("org_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("id", "=", keyId)
    .executeTakeFirst();
}
