import type { FastifyInstance, FastifyRequest } from "fastify";
import { type KeyAction, keyEntry, requestActor } from "../../audit/entries.ts";
import {
  createKey,
  DEFAULT_PAGE,
  getKey,
  grantorFor,
  type IssuedKey,
  type KeyView,
  listKeys,
  MAX_OVERLAP_SECONDS,
  MAX_PAGE,
  revokeKey,
  rotateKey,
} from "../../auth/keys.ts";
import { ALL_AUTH_METHODS, ALL_SCOPES } from "../../core/principal.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageQuery } from "../pagination.ts";
import { nullableString, objectBody, optionalInteger, optionalString, stringList } from "./body.ts";
import { idParam } from "./schemas.ts";

/**
 * API keys of the caller's org (ADR 0008 §2), scope keys:manage. The token is in the
 * answer of create and rotate only, as `key`; nothing else ever shows it. A key of another
 * org is not found. Granting rules (a key never hands out more than it holds) are in
 * auth/keys.ts.
 */
const CREATE_FIELDS = [
  "name",
  "mode",
  "scopes",
  "sender_domains",
  "allowed_ips",
  "expires_at",
  "auth_methods",
  "rate_limit",
] as const;

const keyProperties = {
  name: { type: "string" },
  mode: { type: "string", enum: ["live", "test"] },
  scopes: { type: "array", items: { type: "string", enum: [...ALL_SCOPES] } },
  sender_domains: {
    type: ["array", "null"],
    items: { type: "string" },
    description: "Exact domains the key may send From; null: any verified domain of the org.",
  },
  allowed_ips: {
    type: ["array", "null"],
    items: { type: "string" },
    maxItems: 50,
    description: "Addresses or CIDRs the key may be used from; null: any.",
  },
  auth_methods: {
    type: ["array", "null"],
    items: { type: "string", enum: [...ALL_AUTH_METHODS] },
    description: "null: every method.",
  },
  rate_limit: {
    type: ["string", "null"],
    description: "`<n>/<s|m|h>` or `off`; null: the org's, else SEALPOST_RATE_LIMIT_KEY.",
  },
  expires_at: { type: ["string", "null"], format: "date-time" },
} as const;

export const keyResponse = {
  type: "object",
  properties: {
    id: { type: "string", description: "`key_<ULID>`: the Basic username and OAuth client_id." },
    ...keyProperties,
    created_at: { type: "string", format: "date-time" },
    revoked_at: { type: ["string", "null"], format: "date-time" },
    prev_expires_at: {
      type: ["string", "null"],
      format: "date-time",
      description: "After a rotation: until when the previous token still works.",
    },
    created_by: { type: ["string", "null"] },
  },
} as const;

/** The answer of create and rotate: the key and, this once, its token. */
export const issuedKeyResponse = {
  type: "object",
  properties: {
    ...keyResponse.properties,
    key: { type: "string", description: "The token. Shown this once; store it now." },
  },
} as const;

export function issuedView(issued: IssuedKey) {
  return { ...issued.key, key: issued.token };
}

const createBody = {
  type: "object",
  required: ["scopes"],
  additionalProperties: false,
  properties: {
    ...keyProperties,
    mode: { ...keyProperties.mode, default: "live" },
    expires_at: { ...keyProperties.expires_at, description: "At least 60 seconds ahead." },
  },
} as const;

function keyId(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

export function registerApiKeyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const manage = access({ scope: "keys:manage" });
  /** Audited before the answer: a key change is never left unrecorded (ADR 0009 §2). */
  const audited = (request: FastifyRequest, action: KeyAction, key: KeyView) => {
    const principal = principalOf(request);
    return deps.audit.recordNow(keyEntry(requestActor(principal, request), principal.orgId, action, key));
  };
  app.post(
    "/v1/api-keys",
    {
      config: manage,
      schema: {
        summary: "Create an API key: the token is in this answer only",
        description:
          "The new key's scopes must be held by the calling key (`admin` counts as every org scope, " +
          "never `instance:admin`); a caller restricted to sender domains grants at most those.",
        tags: ["api-keys"],
        body: createBody,
        response: { 201: issuedKeyResponse },
      },
    },
    async (request, reply) => {
      const body = objectBody(request.body, CREATE_FIELDS);
      const scopes = stringList(body, "scopes");
      const expires = nullableString(body, "expires_at");
      const issued = await createKey(
        deps.keys,
        orgScope(deps, request),
        await grantorFor(deps.db, principalOf(request)),
        {
          name: optionalString(body, "name"),
          mode: optionalString(body, "mode") ?? "live",
          scopes: scopes ?? [],
          senderDomains: stringList(body, "sender_domains"),
          allowedIps: stringList(body, "allowed_ips"),
          expiresAt: expires,
          authMethods: stringList(body, "auth_methods"),
          rateLimit: nullableString(body, "rate_limit"),
        },
      );
      await audited(request, "key.create", issued.key);
      return reply.code(201).send(issuedView(issued));
    },
  );
  app.get(
    "/v1/api-keys",
    {
      config: manage,
      schema: {
        summary: "List the org's API keys, newest first (never their tokens)",
        tags: ["api-keys"],
        querystring: {
          type: "object",
          properties: {
            limit: { type: "integer", minimum: 1, maximum: MAX_PAGE },
            cursor: { type: "string" },
          },
        },
      },
    },
    async (request) => {
      const { limit, before } = pageQuery(
        request.query as { limit?: unknown; cursor?: unknown },
        "key",
        MAX_PAGE,
        DEFAULT_PAGE,
      );
      const { data, next } = await listKeys(orgScope(deps, request), { before, limit });
      return {
        object: "list",
        data,
        next_cursor: next === null ? null : Buffer.from(next).toString("base64url"),
      };
    },
  );
  app.get(
    "/v1/api-keys/:id",
    {
      config: manage,
      schema: {
        summary: "An API key (never its token)",
        tags: ["api-keys"],
        params: idParam,
        response: { 200: keyResponse },
      },
    },
    async (request) => getKey(orgScope(deps, request), keyId(request)),
  );
  app.delete(
    "/v1/api-keys/:id",
    {
      config: manage,
      schema: {
        summary: "Revoke an API key, at once on every node",
        description: "Its previous token (inside a rotation overlap) stops working too.",
        tags: ["api-keys"],
        params: idParam,
      },
    },
    async (request, reply) => {
      const { key, revoked } = await revokeKey(
        deps.keys,
        orgScope(deps, request),
        await grantorFor(deps.db, principalOf(request)),
        keyId(request),
      );
      if (revoked) await audited(request, "key.revoke", key);
      return reply.code(204).send();
    },
  );
  app.post(
    "/v1/api-keys/:id/rotate",
    {
      config: manage,
      schema: {
        summary: "Rotate an API key: a new token for the same key id",
        description:
          "The previous token keeps working for overlap_seconds (default 86400); a second rotation " +
          "inside the overlap drops the oldest token. The new token is in this answer only.",
        tags: ["api-keys"],
        params: idParam,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            overlap_seconds: { type: "integer", minimum: 0, maximum: MAX_OVERLAP_SECONDS, default: 86_400 },
          },
        },
        response: { 200: issuedKeyResponse },
      },
    },
    async (request) => {
      const body = objectBody(request.body, ["overlap_seconds"]);
      const issued = await rotateKey(
        deps.keys,
        orgScope(deps, request),
        await grantorFor(deps.db, principalOf(request)),
        keyId(request),
        { overlapSeconds: optionalInteger(body, "overlap_seconds") },
      );
      await audited(request, "key.rotate", issued.key);
      return issuedView(issued);
    },
  );
}
