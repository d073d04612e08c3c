import type { DkimKeysTable, DomainsTable } from "./schema.ts";
import { insertOrg, type OrgScope, orgTransaction, selectOrg, updateOrg } from "./scope.ts";

/** Sending domains and their DKIM keys; every query is scoped by org. */
export async function insertDomain(
  scope: OrgScope,
  domain: DomainsTable,
  keys: readonly DkimKeysTable[],
): Promise<void> {
  await orgTransaction(scope, async (tx) => {
    await insertOrg(tx, "domains", [domain]).execute();
    await insertOrg(tx, "dkim_keys", keys).execute();
  });
}

export async function findDomain(scope: OrgScope, id: string): Promise<DomainsTable | undefined> {
  return selectOrg(scope, "domains").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function findDomainByName(scope: OrgScope, name: string): Promise<DomainsTable | undefined> {
  return selectOrg(scope, "domains").selectAll().where("name", "=", name).executeTakeFirst();
}

export async function listDomains(scope: OrgScope): Promise<DomainsTable[]> {
  return selectOrg(scope, "domains").selectAll().orderBy("name").execute();
}

export async function updateDomainCheck(
  scope: OrgScope,
  id: string,
  set: { status: DomainsTable["status"]; verified_at: number | null; last_check: string },
): Promise<void> {
  await updateOrg(scope, "domains").set(set).where("id", "=", id).execute();
}

/** Keys of a domain that are current (active=1) or waiting to take over (active=0, not retired). */
export async function dkimKeysOf(scope: OrgScope, domainId: string): Promise<DkimKeysTable[]> {
  return selectOrg(scope, "dkim_keys")
    .selectAll()
    .where("domain_id", "=", domainId)
    .where("retired_at", "is", null)
    .orderBy("created_at")
    .execute();
}

export async function insertDkimKeys(scope: OrgScope, keys: readonly DkimKeysTable[]): Promise<void> {
  if (keys.length > 0) await insertOrg(scope, "dkim_keys", keys).execute();
}

/** Makes the waiting keys current and retires the ones they replace, in one transaction. */
export async function promoteDkimKeys(scope: OrgScope, domainId: string, now: number): Promise<void> {
  await orgTransaction(scope, async (tx) => {
    await updateOrg(tx, "dkim_keys")
      .set({ retired_at: now })
      .where("domain_id", "=", domainId)
      .where("active", "=", 1)
      .where("retired_at", "is", null)
      .execute();
    await updateOrg(tx, "dkim_keys")
      .set({ active: 1 })
      .where("domain_id", "=", domainId)
      .where("active", "=", 0)
      .where("retired_at", "is", null)
      .execute();
  });
}
