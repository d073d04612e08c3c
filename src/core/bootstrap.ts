import type { Db } from "../store/db.ts";
import { findApiKeyByHash, findOrgByName, insertOrg } from "../store/orgs.ts";
import type { OrgsTable } from "../store/schema.ts";
import { createApiKey, hashToken } from "./api-keys.ts";
import type { Clock } from "./clock.ts";
import { newId } from "./ids.ts";
import type { Keyring } from "./keyring.ts";

/** Org `default`, created on first start; it owns the bootstrap key. */
export async function ensureOrg(db: Db, keyring: Keyring, clock: Clock, name: string): Promise<OrgsTable> {
  const existing = await findOrgByName(db, name);
  if (existing !== undefined) return existing;
  const id = newId("org", clock.now());
  return insertOrg(db, { id, name, created_at: clock.now(), rate_limit: null }, await keyring.newOrgKeys(id));
}

/**
 * With SEALPOST_BOOTSTRAP_KEY set, makes exactly that string an admin key of `default`
 * (once; later starts find it by hash). Returns whether it was created now.
 */
export async function ensureBootstrapKey(
  db: Db,
  clock: Clock,
  orgId: string,
  token: string,
): Promise<boolean> {
  if ((await findApiKeyByHash(db, hashToken(token))) !== undefined) return false;
  try {
    await createApiKey(db, clock, { orgId, name: "bootstrap", mode: "live", scopes: ["admin"], token });
    return true;
  } catch (err) {
    if ((await findApiKeyByHash(db, hashToken(token))) !== undefined) return false;
    throw err;
  }
}
