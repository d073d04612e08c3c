import type { FastifyInstance, FastifyRequest } from "fastify";
import { type AuditActor, requestActor as actorOf } from "../../audit/entries.ts";
import {
  CONTENT_FIELD,
  checkChange,
  getRetention,
  METADATA_FIELD,
  type RetentionSettings,
  setRetention,
} from "../../retention/settings.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { objectBody } from "./body.ts";

/**
 * The caller's org retention periods (ADR 0009 §4), scope admin. Content past its period
 * is crypto-shredded; metadata past its period is deleted. Changes are audited.
 */

/** The calling key, its source and request id, as the audit log records them. */
export function requestActor(request: FastifyRequest): AuditActor {
  return actorOf(principalOf(request), request);
}

const settingsSchema = {
  type: "object",
  properties: {
    object: { type: "string", enum: ["retention"] },
    [CONTENT_FIELD]: { type: "integer", minimum: 1, maximum: 3650 },
    [METADATA_FIELD]: { type: "integer", minimum: 1, maximum: 36500 },
  },
} as const;

function view(s: RetentionSettings) {
  return {
    object: "retention" as const,
    content_retention_days: s.content_retention_days,
    metadata_retention_days: s.metadata_retention_days,
  };
}

export function registerRetentionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/retention",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "The org's retention periods",
        tags: ["retention"],
        response: { 200: settingsSchema },
      },
    },
    async (request) => view(await getRetention(deps.db, orgScope(deps, request).orgId)),
  );

  app.put(
    "/v1/retention",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "Change the org's retention periods",
        description:
          `Either period or both, in days: ${CONTENT_FIELD} 1-3650 (content is then crypto-shredded), ` +
          `${METADATA_FIELD} at least ${CONTENT_FIELD} and at most 36500 (metadata is then deleted). ` +
          "Legal holds stop both. The change is recorded in the audit log.",
        tags: ["retention"],
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            [CONTENT_FIELD]: settingsSchema.properties[CONTENT_FIELD],
            [METADATA_FIELD]: settingsSchema.properties[METADATA_FIELD],
          },
        },
        response: { 200: settingsSchema },
      },
    },
    async (request) => {
      const change = checkChange(objectBody(request.body, [CONTENT_FIELD, METADATA_FIELD]));
      const scope = orgScope(deps, request);
      return view(await setRetention(deps, scope.orgId, change, requestActor(request)));
    },
  );
}
