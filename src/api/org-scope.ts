import type { FastifyRequest } from "fastify";
import type { Db } from "../store/db.ts";
import { type OrgScope, scopeOf } from "../store/scope.ts";
import { principalOf } from "./authn-hook.ts";

/**
 * The org scope of an authenticated request (ADR 0008): the caller's org, and for a
 * test-mode key only test-mode messages. Routes pass it to every store call, so no route
 * names an org by hand.
 */
export function orgScope(deps: { db: Db }, request: FastifyRequest): OrgScope {
  return scopeOf(deps.db, principalOf(request));
}
