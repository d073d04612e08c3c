import type { FastifyInstance } from "fastify";
import { assemble, COUNTED_TYPES } from "../../stats/buckets.ts";
import { statsParams } from "../../stats/query.ts";
import { eventCounts } from "../../store/stats.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";

/**
 * `GET /v1/stats` (ADR 0011 §4): delivery counts per hour or day (UTC) from the stored
 * events, zero-filled, with totals; optionally only messages carrying a tag. Counts only:
 * no id, address or content.
 */
export function registerStatsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/stats",
    {
      config: access({ scope: "messages:read" }),
      schema: {
        summary: "Delivery statistics per hour or day",
        description:
          "`from` (rounded down to the interval) and `to` (exclusive) are ISO 8601 times; default the " +
          "last 30 days daily or 24 hours hourly. At most 744 buckets. `by_encryption` and " +
          "`by_tls_version` count delivered events.",
        tags: ["stats"],
        querystring: {
          type: "object",
          properties: {
            from: { type: "string" },
            to: { type: "string" },
            interval: { type: "string" },
            tag: { type: "string" },
          },
        },
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const p = statsParams(request.query as Record<string, unknown>, deps.clock.now());
      const rows = await eventCounts(scope, {
        from: p.from,
        to: p.to,
        intervalMs: p.intervalMs,
        types: COUNTED_TYPES,
        ...(p.tag === undefined ? {} : { tag: p.tag }),
      });
      const { buckets, totals } = assemble(rows, p.from, p.to, p.intervalMs);
      return {
        object: "stats",
        from: new Date(p.from).toISOString(),
        to: new Date(p.to).toISOString(),
        interval: p.interval,
        tag: p.tag ?? null,
        buckets,
        totals,
      };
    },
  );
}
