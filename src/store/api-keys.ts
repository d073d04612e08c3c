import type { Db } from "./db.ts";
import type { ApiKeysTable } from "./schema.ts";
import { insertOrg, type OrgScope, selectOrg, updateOrg } from "./scope.ts";

/**
 * API-key rows (ADR 0008 §2). Work on one org's keys takes an `OrgScope`. Authentication
 * is cross-org by nature (no org is known until the key is found), so its lookups take a
 * plain `Db`: this file is on the allow-list of test/store/scoped-queries.test.ts.
 * Key rows are never cached: revocation must hold on every node at once.
 */

/** A key row with its org's rate limit, read in the same round trip at authentication. */
export type AuthKeyRow = ApiKeysTable & { org_rate_limit: string | null };

function authKeyQuery(db: Db) {
  return db.kysely
    .selectFrom("api_keys")
    .innerJoin("orgs", "orgs.id", "api_keys.org_id")
    .selectAll("api_keys")
    .select("orgs.rate_limit as org_rate_limit");
}

/** By key id (new-format tokens, Basic, HMAC, JWT), across orgs. */
export async function findAuthKeyById(db: Db, id: string): Promise<AuthKeyRow | undefined> {
  return authKeyQuery(db).where("api_keys.id", "=", id).executeTakeFirst();
}

/**
 * Rows whose current or previous hash is one of `hashes` (bootstrap and legacy tokens),
 * through the unique index on `secret_hash` and the partial index on `prev_secret_hash`.
 */
export async function findAuthKeysByHash(db: Db, hashes: readonly string[]): Promise<AuthKeyRow[]> {
  return authKeyQuery(db)
    .where((eb) =>
      eb.or([
        eb("api_keys.secret_hash", "in", [...hashes]),
        eb("api_keys.prev_secret_hash", "in", [...hashes]),
      ]),
    )
    .execute();
}

/** What an upgrade or rotation writes: the keyed hash and the sealed signing key. */
export interface SecretColumns {
  secret_hash: string;
  hash_alg: "hmac-sha256";
  signing_key: Uint8Array;
  signing_key_by: string;
}

/**
 * Upgrades a legacy (`sha256`) row in place to the keyed hash and a signing key, once: a
 * concurrent upgrade, or a rotation in between, makes this a no-op.
 */
export async function upgradeLegacyKey(
  db: Db,
  id: string,
  legacyHash: string,
  columns: SecretColumns,
): Promise<boolean> {
  const res = await db.kysely
    .updateTable("api_keys")
    .set(columns)
    .where("id", "=", id)
    .where("hash_alg", "=", "sha256")
    .where("secret_hash", "=", legacyHash)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Whether the bootstrap key was ever made (it may since have been rotated, but not deleted). */
export async function bootstrapKeyExists(db: Db): Promise<boolean> {
  const row = await db.kysely
    .selectFrom("api_keys")
    .select("id")
    .where("created_by", "=", "bootstrap")
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertApiKey(scope: OrgScope, row: ApiKeysTable): Promise<void> {
  await insertOrg(scope, "api_keys", [row]).execute();
}

export async function findApiKey(scope: OrgScope, id: string): Promise<ApiKeysTable | undefined> {
  return selectOrg(scope, "api_keys").selectAll().where("id", "=", id).executeTakeFirst();
}

/** One page of the org's keys, newest first, before the key id `before`. */
export async function listApiKeys(
  scope: OrgScope,
  opts: { before?: string | undefined; limit: number },
): Promise<ApiKeysTable[]> {
  let q = selectOrg(scope, "api_keys").selectAll().orderBy("id", "desc").limit(opts.limit);
  if (opts.before !== undefined) q = q.where("id", "<", opts.before);
  return q.execute();
}

/** Sets `revoked_at` and forgets the previous secret; false when the key is absent or already revoked. */
export async function revokeApiKey(scope: OrgScope, id: string, now: number): Promise<boolean> {
  const res = await updateOrg(scope, "api_keys")
    .set({ revoked_at: now, prev_secret_hash: null, prev_expires_at: null, prev_signing_key: null })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** What a rotation writes: the new secret, and the previous one (or none, for no overlap). */
export interface RotationColumns extends SecretColumns {
  prev_secret_hash: string | null;
  prev_expires_at: number | null;
  prev_signing_key: Uint8Array | null;
}

/**
 * Replaces the secret of a live key, if it still has the hash the rotation read: of two
 * concurrent rotations, one wins and the other changes nothing (false).
 */
export async function rotateApiKey(
  scope: OrgScope,
  id: string,
  expectedHash: string,
  columns: RotationColumns,
): Promise<boolean> {
  const res = await updateOrg(scope, "api_keys")
    .set(columns)
    .where("id", "=", id)
    .where("secret_hash", "=", expectedHash)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
