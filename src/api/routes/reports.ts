import type { FastifyInstance, FastifyRequest } from "fastify";
import { reportEntry, requestActor } from "../../audit/entries.ts";
import { SealpostError } from "../../core/errors.ts";
import { complianceReport } from "../../reports/compliance.ts";
import { reportCsv } from "../../reports/csv.ts";
import { parseFormat, parsePeriod } from "../../reports/period.ts";
import { findOrg } from "../../store/orgs.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";

/**
 * `GET /v1/reports/compliance?from&to[&format=csv]` (ADR 0009 §5): the caller's org's
 * compliance report, counts, codes and ids only. Making one is itself audited.
 */
export function registerReportRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/reports/compliance",
    {
      config: access({ scope: "audit:read" }),
      schema: {
        summary:
          "Compliance report of the caller's org for a period: messages and recipients by encryption, TLS, certificates, MTA-STS, policy violations, unusual volume, failed authentications, keys, retention (docs/compliance.md)",
        tags: ["reports"],
        querystring: {
          type: "object",
          required: ["from", "to"],
          properties: {
            from: { type: "string", description: "ISO 8601 date or date-time, included" },
            to: {
              type: "string",
              description: "ISO 8601 date or date-time, excluded; at most 366 days after from",
            },
            format: { type: "string", enum: ["json", "csv"] },
          },
        },
      },
    },
    async (request: FastifyRequest, reply) => {
      const q = request.query as { from?: unknown; to?: unknown; format?: unknown };
      const period = parsePeriod(q.from, q.to);
      const format = parseFormat(q.format);
      const scope = orgScope(deps, request);
      const org = await findOrg(deps.db, scope.orgId);
      if (org === undefined) throw new SealpostError("not_found");
      const report = await complianceReport(scope, org, period, deps.clock.now());
      await deps.audit.recordNow(
        reportEntry(requestActor(principalOf(request), request), org.id, {
          from: report.period.from,
          to: report.period.to,
        }),
      );
      if (format === "json") return report;
      return reply
        .type("text/csv; charset=utf-8")
        .header(
          "content-disposition",
          `attachment; filename="compliance-${org.name.replace(/[^a-z0-9-]/g, "-")}.csv"`,
        )
        .send(reportCsv(report));
    },
  );
}
