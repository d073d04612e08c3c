import type { FastifyInstance } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import {
  createHold,
  DEFAULT_REASON,
  HOLD_KINDS,
  type HoldRequest,
  holdView,
  REASON,
  releaseHoldById,
} from "../../retention/holds.ts";
import { listHolds } from "../../store/retention.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";
import { type Body, objectBody, optionalString, requiredString } from "./body.ts";
import { requestActor } from "./retention.ts";
import { idParam } from "./schemas.ts";

/**
 * Legal holds (ADR 0009 §4), scope admin: a hold on one message, on every message to one
 * recipient, or on the whole org stops the retention purge until it is released.
 */
const holdSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    object: { type: "string", enum: ["legal_hold"] },
    kind: { type: "string", enum: [...HOLD_KINDS] },
    message_id: { type: ["string", "null"] },
    reason: { type: "string" },
    created_at: { type: "string", format: "date-time" },
    created_by: { type: "string" },
    released_at: { type: ["string", "null"], format: "date-time" },
  },
} as const;

/** The fields each kind takes besides `kind` and `reason`. */
const KIND_FIELDS: Readonly<Record<string, readonly string[]>> = {
  message: ["message_id"],
  recipient: ["address"],
  org: [],
};

function reasonOf(body: Body): string {
  const reason = optionalString(body, "reason") ?? DEFAULT_REASON;
  if (!REASON.test(reason))
    throw new SealpostError("invalid_value", {
      field: "reason",
      detail: "reason must be 1-64 characters of A-Z a-z 0-9 . _ : - (a code, never PHI).",
    });
  return reason;
}

/** The request body as a hold request; fields of another kind are unknown_field. */
function holdRequest(raw: unknown): HoldRequest {
  const loose = objectBody(raw, ["kind", "message_id", "address", "reason"]);
  const kind = requiredString(loose, "kind");
  const fields = KIND_FIELDS[kind];
  if (fields === undefined)
    throw new SealpostError("invalid_value", {
      field: "kind",
      detail: `kind must be one of ${HOLD_KINDS.join(", ")}.`,
    });
  const body = objectBody(raw, ["kind", "reason", ...fields]);
  const reason = reasonOf(body);
  if (kind === "message") return { kind, messageId: requiredString(body, "message_id"), reason };
  if (kind === "recipient") return { kind, address: requiredString(body, "address"), reason };
  return { kind: "org", reason };
}

export function registerLegalHoldRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    "/v1/legal-holds",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "Place a legal hold",
        description:
          "`kind` message (with `message_id`), recipient (with `address`: every message to it) or " +
          "org. While the hold is active, retention neither shreds nor deletes what it covers. " +
          "The address is kept only as a blind index. `reason` is a short code (default legal).",
        tags: ["retention"],
        body: {
          type: "object",
          required: ["kind"],
          additionalProperties: false,
          properties: {
            kind: { type: "string", enum: [...HOLD_KINDS] },
            message_id: { type: "string" },
            address: { type: "string" },
            reason: { type: "string", pattern: REASON.source, default: DEFAULT_REASON },
          },
        },
        response: { 201: holdSchema },
      },
    },
    async (request, reply) => {
      const hold = holdRequest(request.body);
      const row = await createHold(deps, orgScope(deps, request), hold, requestActor(request));
      return reply.code(201).send(holdView(row));
    },
  );

  app.get(
    "/v1/legal-holds",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "List legal holds, newest first (active ones unless all=true)",
        tags: ["retention"],
        querystring: {
          type: "object",
          properties: {
            all: { type: "boolean", default: false },
            limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
            cursor: { type: "string" },
          },
        },
      },
    },
    async (request) => {
      const q = request.query as Record<string, unknown>;
      for (const k of Object.keys(q))
        if (!["all", "limit", "cursor"].includes(k))
          throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
      if (q.all !== undefined && q.all !== "true" && q.all !== "false")
        throw new SealpostError("invalid_value", { field: "all", detail: "all must be true or false." });
      const { limit, before } = pageQuery(q, "hold");
      const rows = await listHolds(orgScope(deps, request), {
        all: q.all === "true",
        before,
        limit: limit + 1,
      });
      const { page, next } = pageOf(rows, limit, (r) => r.id);
      return { object: "list", data: page.map(holdView), next_cursor: next };
    },
  );

  app.delete(
    "/v1/legal-holds/:id",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "Release a legal hold",
        description:
          "The next retention run may then purge what it held. A released hold stays listed with all=true.",
        tags: ["retention"],
        params: idParam,
      },
    },
    async (request, reply) => {
      const id = (request.params as { id: string }).id;
      await releaseHoldById(deps, orgScope(deps, request), id, requestActor(request));
      return reply.code(204).send();
    },
  );
}
