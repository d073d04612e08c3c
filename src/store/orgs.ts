import type { Db } from "./db.ts";
import type { ApiKeysTable, OrgKeysTable, OrgsTable } from "./schema.ts";

/** Organizations, their wrapped keys, and API keys. */

export async function findOrgByName(db: Db, name: string): Promise<OrgsTable | undefined> {
  return db.kysely.selectFrom("orgs").selectAll().where("name", "=", name).executeTakeFirst();
}

export async function findOrg(db: Db, id: string): Promise<OrgsTable | undefined> {
  return db.kysely.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirst();
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

export async function insertApiKey(db: Db, key: ApiKeysTable): Promise<void> {
  await db.kysely.insertInto("api_keys").values(key).execute();
}

export async function findApiKeyByHash(db: Db, secretHash: string): Promise<ApiKeysTable | undefined> {
  return db.kysely
    .selectFrom("api_keys")
    .selectAll()
    .where("secret_hash", "=", secretHash)
    .executeTakeFirst();
}

export async function listApiKeys(db: Db, orgId: string): Promise<ApiKeysTable[]> {
  return db.kysely.selectFrom("api_keys").selectAll().where("org_id", "=", orgId).orderBy("id").execute();
}

export async function revokeApiKey(db: Db, orgId: string, id: string, now: number): Promise<boolean> {
  const res = await db.kysely
    .updateTable("api_keys")
    .set({ revoked_at: now })
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
