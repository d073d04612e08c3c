import type { FastifyReply, FastifyRequest } from "fastify";
import { authenticate } from "../core/api-keys.ts";
import { SealpostError } from "../core/errors.ts";
import { hasScope, type Principal, type Scope } from "../core/principal.ts";
import type { ApiDeps } from "./context.ts";

/**
 * Bearer authentication and scope checks, shared by every /v1 route: a route declares
 * its scope with `guard(deps, scope)` and reads the caller from `principalOf(request)`.
 * The Paubox-compatible routes pass their own scheme (`Token token=<key>`).
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

/** How a route reads the API key from the Authorization header, and the challenge it answers 401 with. */
export interface CredentialScheme {
  token(header: string): string | null;
  challenge: string;
}

export const BEARER: CredentialScheme = {
  token: (header) => /^Bearer ([\x21-\x7e]+)$/.exec(header)?.[1] ?? null,
  challenge: 'Bearer realm="sealpost"',
};

export function guard(deps: ApiDeps, scope: Scope, scheme: CredentialScheme = BEARER) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const token = typeof header === "string" ? scheme.token(header) : null;
    const principal = token === null ? null : await authenticate(deps.db, deps.clock, token);
    if (principal === null) {
      reply.header("WWW-Authenticate", scheme.challenge);
      throw new SealpostError("unauthorized");
    }
    if (!hasScope(principal, scope))
      throw new SealpostError("forbidden", { detail: `This route needs the ${scope} scope.` });
    request.principal = principal;
  };
}
