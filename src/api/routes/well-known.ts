import type { FastifyInstance } from "fastify";
import { ALL_SCOPES } from "../../core/principal.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";

/**
 * OAuth discovery (ADR 0008 §4): the public keys that verify access tokens, and the
 * RFC 8414 metadata naming the issuer, the token endpoint and the JWKS.
 */
export function authorizationServerMetadata(issuer: string) {
  return {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    // Client credentials only: no authorization endpoint, so no response types.
    response_types_supported: [],
    scopes_supported: [...ALL_SCOPES],
  };
}

const jwk = {
  type: "object",
  additionalProperties: true,
  properties: {
    kty: { type: "string", description: "EC" },
    crv: { type: "string", description: "P-256" },
    x: { type: "string" },
    y: { type: "string" },
    kid: { type: "string" },
    alg: { type: "string", description: "ES256" },
    use: { type: "string", description: "sig" },
  },
} as const;

export function registerWellKnownRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/.well-known/jwks.json",
    {
      config: access({ public: "the public keys that verify OAuth access tokens" }),
      schema: {
        summary: "The JSON Web Key Set that verifies OAuth access tokens",
        description: "The active ES256 key and any key retired less than the token lifetime + 5 minutes ago.",
        tags: ["oauth"],
        response: { 200: { type: "object", properties: { keys: { type: "array", items: jwk } } } },
      },
    },
    async (_request, reply) =>
      reply.header("Cache-Control", "public, max-age=300").send(await deps.jwt.jwks()),
  );
  app.get(
    "/.well-known/oauth-authorization-server",
    {
      config: access({ public: "OAuth 2.0 authorization server metadata (RFC 8414)" }),
      schema: { summary: "OAuth 2.0 authorization server metadata (RFC 8414)", tags: ["oauth"] },
    },
    async (_request, reply) =>
      reply.header("Cache-Control", "public, max-age=300").send(authorizationServerMetadata(deps.issuer)),
  );
}
