import type { FastifyInstance } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import { normalizeDomainName } from "../../domains/service.ts";
import { tlsCheck } from "../../tools/tls-check.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";

export function registerTlsCheckRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/tools/tls-check",
    {
      config: access({ scope: "messages:read" }),
      schema: {
        summary:
          "Check a domain's inbound mail TLS: MX hosts, STARTTLS, TLS version and cipher, certificate, MTA-STS, TLS-RPT",
        tags: ["tools"],
        querystring: { type: "object", required: ["domain"], properties: { domain: { type: "string" } } },
      },
    },
    async (request) => {
      const q = request.query as { domain?: unknown };
      if (q.domain === undefined) throw new SealpostError("missing_field", { field: "domain" });
      const domain = normalizeDomainName(q.domain);
      return tlsCheck(domain, deps.tlsCheck);
    },
  );
}
