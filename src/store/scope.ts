import type { Principal } from "../core/principal.ts";
import type { Db } from "./db.ts";

/**
 * Org scoping by construction (ADR 0008 §1). Every store function on an org-owned table
 * takes an `OrgScope` first, and only two functions make one: `scopeOf` from an
 * authenticated principal, and `systemScope` for the worker, the CLI and admin code, named
 * so that every use is easy to grep for.
 */
declare const orgIdBrand: unique symbol;
export type OrgId = string & { readonly [orgIdBrand]: true };

export interface OrgScope {
  readonly db: Db;
  readonly orgId: OrgId;
  /** `test`: a test-mode key, which reads only test-mode messages. */
  readonly mode: "any" | "test";
}

export function scopeOf(db: Db, principal: Pick<Principal, "orgId" | "mode">): OrgScope {
  return { db, orgId: principal.orgId as OrgId, mode: principal.mode === "test" ? "test" : "any" };
}

export function systemScope(db: Db, orgId: string, _who: "worker" | "cli" | "admin" | "bootstrap"): OrgScope {
  return { db, orgId: orgId as OrgId, mode: "any" };
}
