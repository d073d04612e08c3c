import type { Db } from "./db.ts";
import type { InstanceKeysTable } from "./schema.ts";

/**
 * Instance-wide secrets (ADR 0008 §2–4): the API-key hash pepper and the JWT signing keys,
 * wrapped by the master key. A unique partial index allows one active row per purpose.
 * Cross-org by nature, so these functions take a plain `Db`.
 */

export type InstanceKeyPurpose = InstanceKeysTable["purpose"];

export async function findActiveInstanceKey(
  db: Db,
  purpose: InstanceKeyPurpose,
): Promise<InstanceKeysTable | undefined> {
  return db.kysely
    .selectFrom("instance_keys")
    .selectAll()
    .where("purpose", "=", purpose)
    .where("retired_at", "is", null)
    .executeTakeFirst();
}

export async function findInstanceKey(db: Db, id: string): Promise<InstanceKeysTable | undefined> {
  return db.kysely.selectFrom("instance_keys").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Inserts the first active key of its purpose. When another node got there first (the
 * unique partial index refuses ours), returns theirs, as `insertOrg` does.
 */
export async function insertFirstInstanceKey(db: Db, row: InstanceKeysTable): Promise<InstanceKeysTable> {
  try {
    await db.kysely.insertInto("instance_keys").values(row).execute();
    return row;
  } catch (err) {
    const existing = await findActiveInstanceKey(db, row.purpose);
    if (existing !== undefined) return existing;
    throw err;
  }
}

/**
 * Retires the active key of the row's purpose and inserts the row, in one transaction.
 * Returns the id of the retired key, if there was one.
 */
export async function replaceInstanceKey(
  db: Db,
  row: InstanceKeysTable,
  now: number,
): Promise<string | undefined> {
  return db.kysely.transaction().execute(async (trx) => {
    const retired = await trx
      .updateTable("instance_keys")
      .set({ retired_at: now })
      .where("purpose", "=", row.purpose)
      .where("retired_at", "is", null)
      .returning("id")
      .executeTakeFirst();
    await trx.insertInto("instance_keys").values(row).execute();
    return retired?.id;
  });
}

/** The active key of a purpose and those retired after `retiredAfter` (epoch ms), newest first. */
export async function listRecentInstanceKeys(
  db: Db,
  purpose: InstanceKeyPurpose,
  retiredAfter: number,
): Promise<InstanceKeysTable[]> {
  return db.kysely
    .selectFrom("instance_keys")
    .selectAll()
    .where("purpose", "=", purpose)
    .where((eb) => eb.or([eb("retired_at", "is", null), eb("retired_at", ">", retiredAfter)]))
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
}

/** Every row, for re-wrapping under a new master key. */
export async function listAllInstanceKeys(db: Db): Promise<InstanceKeysTable[]> {
  return db.kysely.selectFrom("instance_keys").selectAll().orderBy("id").execute();
}

export async function updateInstanceKeyWrapping(
  db: Db,
  id: string,
  wrapped: Uint8Array,
  masterKeyId: string,
): Promise<void> {
  await db.kysely
    .updateTable("instance_keys")
    .set({ wrapped, master_key_id: masterKeyId })
    .where("id", "=", id)
    .execute();
}
