import type { FastifyReply, FastifyRequest } from "fastify";
import { authenticate } from "../core/api-keys.ts";
import { SealpostError } from "../core/errors.ts";
import { hasScope, type Principal, type Scope } from "../core/principal.ts";
import type { ApiDeps } from "./context.ts";

/**
 * Bearer authentication and scope checks, shared by every /v1 route: a route declares
 * its scope with `guard(deps, scope)` and reads the caller from `principalOf(request)`.
 */
declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new SealpostError("unauthorized");
  return request.principal;
}

export function guard(deps: ApiDeps, scope: Scope) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const m = typeof header === "string" ? /^Bearer ([\x21-\x7e]+)$/.exec(header) : null;
    const principal = m?.[1] === undefined ? null : await authenticate(deps.db, deps.clock, m[1]);
    if (principal === null) {
      reply.header("WWW-Authenticate", 'Bearer realm="sealpost"');
      throw new SealpostError("unauthorized");
    }
    if (!hasScope(principal, scope))
      throw new SealpostError("forbidden", { detail: `This route needs the ${scope} scope.` });
    request.principal = principal;
  };
}
