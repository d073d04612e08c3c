/**
 * The MTA-STS policy cache in the database (table `mta_sts_policies`), shared by every worker
 * of an installation and kept across restarts, as RFC 8461 section 5.1 expects of a cache.
 * One row per recipient domain, replaced on each fetch; `expires_at` (epoch ms) is stored
 * for housekeeping queries, the delivery code computes expiry from fetched_at + max_age.
 */
import type { MtaStsCache, MtaStsPolicy, PolicyMode } from "../delivery/mta-sts.ts";
import type { Db } from "./db.ts";

const MODES: ReadonlySet<string> = new Set<PolicyMode>(["enforce", "testing", "none"]);

function parseMx(json: string): string[] | null {
  try {
    const value: unknown = JSON.parse(json);
    if (Array.isArray(value) && value.every((v): v is string => typeof v === "string")) return value;
  } catch {
    // a corrupt row is treated as absent: the policy is fetched again
  }
  return null;
}

export function dbMtaStsCache(db: Db): MtaStsCache {
  return {
    async get(domain) {
      const row = await db.kysely
        .selectFrom("mta_sts_policies")
        .select(["policy_id", "mode", "mx", "max_age", "fetched_at"])
        .where("domain", "=", domain)
        .executeTakeFirst();
      if (row === undefined || !MODES.has(row.mode)) return null;
      const mx = parseMx(row.mx);
      if (mx === null) return null;
      return {
        id: row.policy_id,
        mode: row.mode,
        mx,
        maxAgeSeconds: Number(row.max_age),
        fetchedAt: Number(row.fetched_at),
      };
    },
    async put(domain, policy: MtaStsPolicy) {
      const values = {
        policy_id: policy.id,
        mode: policy.mode,
        mx: JSON.stringify(policy.mx),
        max_age: policy.maxAgeSeconds,
        fetched_at: policy.fetchedAt,
        expires_at: policy.fetchedAt + policy.maxAgeSeconds * 1000,
      };
      await db.kysely
        .insertInto("mta_sts_policies")
        .values({ domain, ...values })
        .onConflict((oc) => oc.column("domain").doUpdateSet(values))
        .execute();
    },
  };
}
