import type { FastifyInstance, FastifyRequest } from "fastify";
import { requestActor, suppressionEntry } from "../../audit/entries.ts";
import { parseBareAddress } from "../../core/address.ts";
import { SealpostError } from "../../core/errors.ts";
import { type SuppressionReason, suppress, suppressionAad } from "../../core/suppressions.ts";
import { normalizeAddress } from "../../crypto/blind-index.ts";
import type { SuppressionsTable } from "../../store/schema.ts";
import { deleteSuppression, findSuppression, listSuppressions } from "../../store/suppressions.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";

const REASONS: readonly SuppressionReason[] = ["hard_bounce", "complaint", "unsubscribe", "manual"];

function address(raw: unknown, field: string): string {
  const parsed = typeof raw === "string" ? parseBareAddress(raw.trim()) : null;
  if (parsed === null) throw new SealpostError("invalid_address", { field });
  return normalizeAddress(parsed.address);
}

async function view(deps: ApiDeps, row: SuppressionsTable) {
  const addr = await deps.keyring.openForOrg(row.org_id, row.wrapped_by, row.address, suppressionAad(row.id));
  return {
    id: row.id,
    address: addr.toString(),
    reason: row.reason,
    delivery_id: row.delivery_id,
    created_at: new Date(row.created_at).toISOString(),
  };
}

export function registerSuppressionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  /** Recorded before the answer (ADR 0009 §2), by the suppression's id: never its address. */
  const audited = (
    request: FastifyRequest,
    action: "suppression.add" | "suppression.remove",
    row: SuppressionsTable,
  ) => {
    const principal = principalOf(request);
    return deps.audit.recordNow(suppressionEntry(requestActor(principal, request), row.org_id, action, row));
  };
  app.get(
    "/v1/suppressions",
    {
      config: access({ scope: "suppressions:manage" }),
      schema: {
        summary: "List suppressed addresses, newest first",
        tags: ["suppressions"],
        querystring: {
          type: "object",
          properties: { limit: { type: "integer" }, cursor: { type: "string" } },
        },
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const { limit, before } = pageQuery(
        request.query as { limit?: unknown; cursor?: unknown },
        "sup",
        200,
        50,
      );
      const rows = await listSuppressions(scope, before, limit + 1);
      const { page, next } = pageOf(rows, limit, (r) => r.id);
      return { object: "list", data: await Promise.all(page.map((r) => view(deps, r))), next_cursor: next };
    },
  );
  app.post(
    "/v1/suppressions",
    {
      config: access({ scope: "suppressions:manage" }),
      schema: {
        summary: "Suppress an address: later sends to it get status suppressed and no delivery attempt",
        tags: ["suppressions"],
        body: {
          type: "object",
          required: ["address"],
          properties: { address: { type: "string" }, reason: { type: "string", enum: [...REASONS] } },
        },
      },
    },
    async (request, reply) => {
      const scope = orgScope(deps, request);
      const body = request.body as Record<string, unknown> | null;
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
      for (const k of Object.keys(body))
        if (k !== "address" && k !== "reason")
          throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
      if (body.address === undefined) throw new SealpostError("missing_field", { field: "address" });
      const addr = address(body.address, "address");
      const reason = (body.reason ?? "manual") as SuppressionReason;
      if (!REASONS.includes(reason))
        throw new SealpostError("invalid_value", {
          field: "reason",
          detail: `reason must be one of ${REASONS.join(", ")}.`,
        });
      const created = await suppress(deps, scope, addr, reason, null);
      const row = await findSuppression(scope, await deps.keyring.addressIndex(scope.orgId, addr));
      if (row === undefined) throw new SealpostError("internal_error");
      if (created) await audited(request, "suppression.add", row);
      return reply.code(created ? 201 : 200).send(await view(deps, row));
    },
  );
  app.delete(
    "/v1/suppressions/:address",
    {
      config: access({ scope: "suppressions:manage" }),
      schema: {
        summary: "Remove an address from the suppression list",
        tags: ["suppressions"],
        params: { type: "object", required: ["address"], properties: { address: { type: "string" } } },
      },
    },
    async (request, reply) => {
      const scope = orgScope(deps, request);
      const addr = address((request.params as { address: string }).address, "address");
      const bidx = await deps.keyring.addressIndex(scope.orgId, addr);
      const row = await findSuppression(scope, bidx);
      if (row === undefined || !(await deleteSuppression(scope, bidx))) throw new SealpostError("not_found");
      await audited(request, "suppression.remove", row);
      return reply.code(204).send();
    },
  );
}
