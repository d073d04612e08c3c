import type { Db } from "../store/db.ts";
import { DEFAULT_POLICY, type OrgPolicy } from "./types.ts";

/**
 * Reading an org's policy: the stored JSON over the defaults. Both threads read it through
 * a cache of a few seconds, so a change takes effect within `ttlMs` everywhere.
 */
export function parsePolicy(json: string | null): OrgPolicy {
  if (json === null) return DEFAULT_POLICY;
  const stored = JSON.parse(json) as Partial<OrgPolicy>;
  return Object.freeze({ ...DEFAULT_POLICY, ...stored });
}

export async function loadPolicy(db: Db, orgId: string): Promise<OrgPolicy> {
  const row = await db.kysely.selectFrom("orgs").select("policy").where("id", "=", orgId).executeTakeFirst();
  return parsePolicy(row?.policy ?? null);
}

export class PolicyCache {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { at: number; policy: Promise<OrgPolicy> }>();

  constructor(deps: { db: Db; now?: () => number; ttlMs?: number }) {
    this.#db = deps.db;
    this.#now = deps.now ?? Date.now;
    this.#ttlMs = deps.ttlMs ?? 5000;
  }

  get(orgId: string): Promise<OrgPolicy> {
    const now = this.#now();
    const hit = this.#entries.get(orgId);
    if (hit !== undefined && now - hit.at < this.#ttlMs) return hit.policy;
    const policy = loadPolicy(this.#db, orgId);
    policy.catch(() => this.#entries.delete(orgId));
    this.#entries.set(orgId, { at: now, policy });
    return policy;
  }

  /** After a change on this thread: the next read goes to the store. */
  forget(orgId: string): void {
    this.#entries.delete(orgId);
  }
}
