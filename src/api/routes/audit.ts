import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { exportLines } from "../../audit/export.ts";
import { verifyStoredChain } from "../../audit/verify-store.ts";
import { clientAddress } from "../../auth/source.ts";
import { SealpostError } from "../../core/errors.ts";
import { type AuditFilter, listEntries, streamEntries } from "../../store/audit.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";

/**
 * The caller's org's audit chain (ADR 0009 §3), scope audit:read. `GET /v1/audit` lists
 * entries in seq order with filters and a cursor, as JSON pages or, with `Accept:
 * application/x-ndjson`, every matching entry as JSON Lines (an export, itself audited);
 * `GET /v1/audit/verify` recomputes the chain. Entries are full rows, so what an auditor
 * receives verifies offline. No route names a chain: it is always the caller's org's.
 */
const NDJSON = "application/x-ndjson";
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
const TOKEN = /^[A-Za-z0-9_.:-]{1,128}$/;

const entrySchema = {
  type: "object",
  properties: {
    chain: { type: "string" },
    seq: { type: "integer" },
    id: { type: "string" },
    at: { type: "integer", description: "Epoch milliseconds." },
    actor_type: { type: "string", enum: ["key", "operator", "system", "anonymous"] },
    actor_id: { type: ["string", "null"] },
    action: { type: "string" },
    target_type: { type: ["string", "null"] },
    target_id: { type: ["string", "null"] },
    outcome: { type: "string", description: "`ok` or an error code." },
    status: { type: ["integer", "null"] },
    source_ip: { type: ["string", "null"] },
    request_id: { type: ["string", "null"] },
    details: { type: "string", description: "JSON text of allow-listed scalar fields." },
    prev_hash: { type: "string" },
    hash: { type: "string" },
  },
} as const;

const listQuery = {
  type: "object",
  properties: {
    from: { type: "string", format: "date-time", description: "Entries at or after this time." },
    to: { type: "string", format: "date-time", description: "Entries before this time." },
    action: { type: "string" },
    actor_id: { type: "string" },
    outcome: { type: "string" },
    limit: { type: "integer", minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
    cursor: { type: "string" },
  },
} as const;

function time(raw: unknown, field: string): number | undefined {
  if (raw === undefined) return undefined;
  const ms = typeof raw === "string" ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new SealpostError("invalid_value", { field, detail: `${field} must be an RFC 3339 time.` });
  return ms;
}

function token(raw: unknown, field: string): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !TOKEN.test(raw)) throw new SealpostError("invalid_value", { field });
  return raw;
}

function cursorSeq(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const text = typeof raw === "string" ? Buffer.from(raw, "base64url").toString("utf8") : "";
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new SealpostError("invalid_cursor", { field: "cursor" });
  return Number(text);
}

function pageLimit(raw: unknown): number {
  const limit = raw === undefined ? DEFAULT_PAGE : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw new SealpostError("invalid_value", { field: "limit", detail: `limit must be 1-${MAX_PAGE}.` });
  return limit;
}

function filterOf(q: Record<string, unknown>): AuditFilter {
  const values = {
    from: time(q.from, "from"),
    to: time(q.to, "to"),
    action: token(q.action, "action"),
    actorId: token(q.actor_id, "actor_id"),
    outcome: token(q.outcome, "outcome"),
    afterSeq: cursorSeq(q.cursor),
  };
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as AuditFilter;
}

function wantsLines(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? "";
  return accept.split(",").some((part) => part.trim().split(";")[0]?.trim().toLowerCase() === NDJSON);
}

async function exportChain(deps: ApiDeps, request: FastifyRequest, reply: FastifyReply, filter: AuditFilter) {
  const principal = principalOf(request);
  await deps.audit.recordNow({
    chain: principal.orgId,
    actorType: "key",
    actorId: principal.keyId,
    action: "audit.export",
    outcome: "ok",
    sourceIp: clientAddress(request.ip),
    requestId: request.id,
    details: {
      ...(filter.from === undefined ? {} : { from: new Date(filter.from).toISOString() }),
      ...(filter.to === undefined ? {} : { to: new Date(filter.to).toISOString() }),
    },
  });
  return reply.type(NDJSON).send(Readable.from(exportLines(streamEntries(deps.db, principal.orgId, filter))));
}

export function registerAuditRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/audit",
    {
      config: access({ scope: "audit:read" }),
      schema: {
        summary: "The org's audit log, in seq order",
        description:
          "Filters `from`, `to`, `action`, `actor_id`, `outcome`; pages of `limit` entries with `next` as the cursor. " +
          "With `Accept: application/x-ndjson`, every matching entry as JSON Lines (an audited export).",
        tags: ["audit"],
        querystring: listQuery,
        response: {
          200: {
            type: "object",
            properties: { data: { type: "array", items: entrySchema }, next: { type: ["string", "null"] } },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const q = request.query as Record<string, unknown>;
      const filter = filterOf(q);
      if (wantsLines(request)) return exportChain(deps, request, reply, filter);
      const limit = pageLimit(q.limit);
      const rows = await listEntries(deps.db, principal.orgId, filter, limit + 1);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const next =
        rows.length > limit && last !== undefined
          ? Buffer.from(String(last.seq)).toString("base64url")
          : null;
      return { data: page, next };
    },
  );
  app.get(
    "/v1/audit/verify",
    {
      config: access({ scope: "audit:read" }),
      schema: {
        summary: "Verify the org's audit chain",
        description:
          "Recomputes every hash of the caller's org's chain and names the first entry that was changed, removed, inserted or reordered.",
        tags: ["audit"],
        response: {
          200: {
            type: "object",
            properties: {
              ok: { type: "boolean" },
              chain: { type: "string" },
              checked: { type: "integer" },
              first_bad: {
                type: ["object", "null"],
                properties: {
                  seq: { type: "integer" },
                  id: { type: ["string", "null"] },
                  problem: {
                    type: "string",
                    enum: ["changed", "removed", "inserted", "reordered", "head_mismatch", "bad_checkpoint"],
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const report = await verifyStoredChain(deps.db, principal.orgId);
      deps.audit.record({
        chain: principal.orgId,
        actorType: "key",
        actorId: principal.keyId,
        action: "audit.verify",
        outcome: "ok",
        sourceIp: clientAddress(request.ip),
        requestId: request.id,
        details: { result: report.ok ? "ok" : (report.firstBad?.problem ?? "bad"), entries: report.checked },
      });
      return { ok: report.ok, chain: report.chain, checked: report.checked, first_bad: report.firstBad };
    },
  );
}
