import type { FastifyInstance } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import { EVENT_TYPES, isEventType } from "../../events/types.ts";
import { eventView } from "../../events/view.ts";
import { listEvents } from "../../store/events.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";

/**
 * `GET /v1/events` (ADR 0011 §2): the org's events, newest first, each in the allow-listed
 * view (no address, no reply text), filtered by type (one or a comma list), message and
 * time (`since` inclusive, `until` exclusive), with the cursor pagination of other lists.
 */
const KNOWN = new Set(["type", "message_id", "since", "until", "limit", "cursor"]);
const MESSAGE_ID = /^msg_[0-9a-z]{26}$/;

function timeParam(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new SealpostError("invalid_value", { field, detail: `${field} must be an ISO 8601 time.` });
  return ms;
}

function typesParam(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const types = typeof value === "string" ? value.split(",").map((t) => t.trim()) : [];
  if (types.length === 0 || !types.every(isEventType))
    throw new SealpostError("invalid_value", {
      field: "type",
      detail: `type must be one or a comma-separated list of ${EVENT_TYPES.join(", ")}.`,
    });
  return types;
}

export function registerEventRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/events",
    {
      config: access({ scope: "messages:read" }),
      schema: {
        summary: "List events, newest first",
        description:
          "Filters: `type` (one type or a comma-separated list), `message_id`, `since` (inclusive) and " +
          "`until` (exclusive) as ISO 8601 times. Details are allow-listed: TLS evidence, encryption " +
          "mode, reply and enhanced codes, reason, retry time; never an address or a reply text.",
        tags: ["events"],
        querystring: {
          type: "object",
          properties: {
            type: { type: "string" },
            message_id: { type: "string" },
            since: { type: "string" },
            until: { type: "string" },
            limit: { type: "integer" },
            cursor: { type: "string" },
          },
        },
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const q = request.query as Record<string, unknown>;
      for (const k of Object.keys(q))
        if (!KNOWN.has(k))
          throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
      const { limit, before } = pageQuery(q, "evt", 200, 50);
      const types = typesParam(q.type);
      if (q.message_id !== undefined && (typeof q.message_id !== "string" || !MESSAGE_ID.test(q.message_id)))
        throw new SealpostError("invalid_value", {
          field: "message_id",
          detail: "message_id must be a message id.",
        });
      const since = timeParam(q.since, "since");
      const until = timeParam(q.until, "until");
      const rows = await listEvents(scope, {
        limit: limit + 1,
        ...(types === undefined ? {} : { types }),
        ...(q.message_id === undefined ? {} : { messageId: q.message_id as string }),
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
        ...(before === undefined ? {} : { before }),
      });
      const { page, next } = pageOf(rows, limit, (e) => e.id);
      return { object: "list", data: page.map(eventView), next_cursor: next };
    },
  );
}
