import type { FastifyInstance, FastifyRequest } from "fastify";
import { type DomainAction, domainEntry, requestActor } from "../../audit/entries.ts";
import { SealpostError } from "../../core/errors.ts";
import {
  addDomain,
  domainView,
  getDomainOrThrow,
  listDomainViews,
  rotateDkim,
  verifyDomain,
} from "../../domains/service.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { idParam } from "./schemas.ts";

function id(params: unknown): string {
  return (params as { id: string }).id;
}

export function registerDomainRoutes(app: FastifyInstance, deps: ApiDeps): void {
  /** Records the change before the answer (ADR 0009 §2) and answers the domain. */
  const audited = async <D extends { id: string; status: string }>(
    request: FastifyRequest,
    action: DomainAction,
    domain: D,
  ): Promise<D> => {
    const principal = principalOf(request);
    await deps.audit.recordNow(
      domainEntry(requestActor(principal, request), principal.orgId, action, domain),
    );
    return domain;
  };
  app.post(
    "/v1/domains",
    {
      config: access({ scope: "domains:manage" }),
      schema: {
        summary:
          "Add a sending domain: generates DKIM keys (RSA-2048 and Ed25519) and lists the DNS records to publish",
        tags: ["domains"],
        body: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: { name: { type: "string" } },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Record<string, unknown> | null;
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
      for (const k of Object.keys(body))
        if (k !== "name")
          throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
      if (body.name === undefined) throw new SealpostError("missing_field", { field: "name" });
      const added = await addDomain(deps.domains, orgScope(deps, request), body.name);
      return reply.code(201).send(await audited(request, "domain.add", added));
    },
  );
  app.get(
    "/v1/domains",
    {
      config: access({ scope: "domains:manage" }),
      schema: { summary: "List sending domains", tags: ["domains"] },
    },
    async (request) => ({
      object: "list",
      data: await listDomainViews(deps.domains, orgScope(deps, request)),
    }),
  );
  app.get(
    "/v1/domains/:id",
    {
      config: access({ scope: "domains:manage" }),
      schema: {
        summary: "A sending domain with its DNS records and last check",
        tags: ["domains"],
        params: idParam,
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      return domainView(deps.domains, scope, await getDomainOrThrow(scope, id(request.params)));
    },
  );
  app.post(
    "/v1/domains/:id/verify",
    {
      config: access({ scope: "domains:manage" }),
      schema: {
        summary: "Check the domain's records in DNS and report each",
        tags: ["domains"],
        params: idParam,
      },
    },
    async (request) =>
      audited(
        request,
        "domain.verify",
        await verifyDomain(deps.domains, orgScope(deps, request), id(request.params)),
      ),
  );
  app.post(
    "/v1/domains/:id/rotate-dkim",
    {
      config: access({ scope: "domains:manage" }),
      schema: {
        summary: "Create the next DKIM keys; they take over when verify finds them in DNS",
        tags: ["domains"],
        params: idParam,
      },
    },
    async (request) =>
      audited(
        request,
        "domain.rotate_dkim",
        await rotateDkim(deps.domains, orgScope(deps, request), id(request.params)),
      ),
  );
}
