import type { FastifyInstance } from "fastify";
import { keyEntry, orgEntries, recordAllNow, requestActor, signingKeyEntry } from "../../audit/entries.ts";
import { createKey, type Grantor } from "../../auth/keys.ts";
import { SealpostError } from "../../core/errors.ts";
import { isId } from "../../core/ids.ts";
import { createOrg, findOrg, listOrgs, orgView } from "../../core/orgs.ts";
import { systemScope } from "../../store/scope.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { issuedKeyResponse, issuedView } from "./api-keys.ts";
import { objectBody, optionalBoolean } from "./body.ts";
import { idParam } from "./schemas.ts";

/**
 * Instance administration (ADR 0008 §1), scope `instance:admin` only: orgs, a new org's
 * first admin key, and rotation of the OAuth signing key. It never reads an org's data.
 */
const orgResponse = {
  type: "object",
  properties: {
    id: { type: "string" },
    object: { type: "string", enum: ["org"] },
    name: { type: "string" },
    rate_limit: { type: ["string", "null"] },
    created_at: { type: "string", format: "date-time" },
  },
} as const;

export function registerAdminRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const instance = access({ instance: true });
  app.post(
    "/v1/admin/orgs",
    {
      config: instance,
      schema: {
        summary: "Create an organization, optionally with its first admin key",
        description:
          "With `admin_key: true` the answer holds the new org's first key (scope admin) with its " +
          "token, shown this once.",
        tags: ["admin"],
        body: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: {
            name: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" },
            rate_limit: {
              type: "string",
              description: "`<n>/<s|m|h>` or `off`; unset: SEALPOST_RATE_LIMIT_ORG.",
            },
            admin_key: { type: "boolean", default: false },
          },
        },
        response: {
          201: {
            type: "object",
            properties: { ...orgResponse.properties, admin_key: issuedKeyResponse },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = objectBody(request.body, ["name", "rate_limit", "admin_key"]);
      if (body.name === undefined) throw new SealpostError("missing_field", { field: "name" });
      const withKey = optionalBoolean(body, "admin_key") ?? false;
      const org = await createOrg(deps, { name: body.name, rateLimit: body.rate_limit });
      const actor = requestActor(principal, request);
      await recordAllNow(deps.audit, orgEntries(actor, org));
      if (!withKey) return reply.code(201).send(orgView(org));
      // An instance admin holds no org scope; it grants a new org exactly its first admin key.
      const grantor: Grantor = {
        scopes: ["admin"],
        senderDomains: null,
        bounds: { allowedIps: null, authMethods: null, expiresAt: null },
        createdBy: principal.keyId,
      };
      const issued = await createKey(deps.keys, systemScope(deps.db, org.id, "admin"), grantor, {
        name: "admin",
        mode: "live",
        scopes: ["admin"],
      });
      await deps.audit.recordNow(keyEntry(actor, org.id, "key.create", issued.key));
      return reply.code(201).send({ ...orgView(org), admin_key: issuedView(issued) });
    },
  );
  app.get(
    "/v1/admin/orgs",
    {
      config: instance,
      schema: {
        summary: "List organizations",
        tags: ["admin"],
        response: {
          200: {
            type: "object",
            properties: { object: { type: "string" }, data: { type: "array", items: orgResponse } },
          },
        },
      },
    },
    async () => ({ object: "list", data: (await listOrgs(deps.db)).map(orgView) }),
  );
  app.get(
    "/v1/admin/orgs/:id",
    {
      config: instance,
      schema: {
        summary: "An organization",
        tags: ["admin"],
        params: idParam,
        response: { 200: orgResponse },
      },
    },
    async (request) => {
      const id = (request.params as { id: string }).id;
      const org = isId(id, "org") ? await findOrg(deps.db, id) : undefined;
      if (org === undefined) throw new SealpostError("not_found");
      return orgView(org);
    },
  );
  app.post(
    "/v1/admin/signing-keys/rotate",
    {
      config: instance,
      schema: {
        summary: "Rotate the OAuth access-token signing key",
        description:
          "A new ES256 key signs from now on; the old one stays in the JWKS, and verifies, for the " +
          "token lifetime + 5 minutes. Other nodes pick the new key up within 60 seconds.",
        tags: ["admin"],
        response: { 200: { type: "object", properties: { kid: { type: "string" } } } },
      },
    },
    async (request) => {
      const rotated = await deps.jwt.rotate();
      await deps.audit.recordNow(signingKeyEntry(requestActor(principalOf(request), request), rotated.kid));
      return rotated;
    },
  );
}
