import type { FastifyInstance, FastifyRequest } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import {
  changeWebhook,
  createWebhook,
  deliveriesOfWebhook,
  getWebhook,
  listOrgWebhooks,
  MAX_OVERLAP_HOURS,
  queueTest,
  removeWebhook,
  rotateWebhookSecret,
  WEBHOOK_EVENT_TYPES,
  type WebhookChange,
  type WebhookDeps,
} from "../../webhooks/service.ts";
import {
  webhookDeliverySchema,
  webhookDeliveryView,
  webhookSchema,
  webhookView,
} from "../../webhooks/views.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";
import {
  type Body,
  objectBody,
  optionalBoolean,
  optionalInteger,
  optionalString,
  stringList,
} from "./body.ts";
import { requestActor } from "./retention.ts";
import { idParam } from "./schemas.ts";

/**
 * Webhook endpoints (ADR 0011 §3), scope webhooks:manage: create, list, show, change,
 * delete, rotate the secret, queue a test delivery and read the delivery log. A URL is
 * https to a public address (SSRF check on every change and at every send); refusals are
 * 422 webhook_url_refused with a fixed detail. Changes are recorded in the audit log.
 */
const FIELDS = ["url", "event_types", "enabled"];

function change(body: Body): WebhookChange {
  const url = optionalString(body, "url");
  const types = stringList(body, "event_types");
  if (types !== undefined && types !== null && types.length > WEBHOOK_EVENT_TYPES.length)
    throw new SealpostError("invalid_value", { field: "event_types", detail: "Too many event types." });
  const enabled = optionalBoolean(body, "enabled");
  return {
    ...(url === undefined ? {} : { url }),
    ...(types === undefined ? {} : { eventTypes: types ?? [] }),
    ...(enabled === undefined ? {} : { enabled }),
  };
}

const id = (request: FastifyRequest) => (request.params as { id: string }).id;

const bodySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    url: { type: "string", format: "uri", maxLength: 2048 },
    event_types: {
      type: "array",
      items: { type: "string", enum: WEBHOOK_EVENT_TYPES },
      description: "Empty: every type.",
    },
    enabled: { type: "boolean", default: true },
  },
} as const;

/** `limit` and `cursor` of the two lists (endpoints, an endpoint's deliveries). */
const pageQuerySchema = {
  type: "object",
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
    cursor: { type: "string" },
  },
} as const;

export function registerWebhookRoutes(app: FastifyInstance, api: ApiDeps): void {
  const manage = access({ scope: "webhooks:manage" });
  const deps: WebhookDeps = {
    db: api.db,
    keyring: api.keyring,
    clock: api.clock,
    audit: api.audit,
    outbox: api.webhooks.outbox,
    policy: api.webhooks.policy,
  };

  app.post(
    "/v1/webhooks",
    {
      config: manage,
      schema: {
        summary: "Add a webhook endpoint",
        description:
          "`url` (https to a public address), `event_types` (empty or absent: every type) and `enabled`. " +
          "The answer carries the endpoint's signing `secret`, shown only here and on rotation. " +
          "Recorded in the audit log.",
        tags: ["webhooks"],
        body: { ...bodySchema, required: ["url"] },
        response: { 201: webhookSchema },
      },
    },
    async (request, reply) => {
      const c = change(objectBody(request.body, FIELDS));
      if (c.url === undefined) throw new SealpostError("missing_field", { field: "url" });
      const made = await createWebhook(
        deps,
        orgScope(api, request),
        { ...c, url: c.url },
        requestActor(request),
      );
      return reply.code(201).send(webhookView(made.row, made.secret));
    },
  );

  app.get(
    "/v1/webhooks",
    {
      config: manage,
      schema: {
        summary: "List webhook endpoints, newest first",
        tags: ["webhooks"],
        querystring: pageQuerySchema,
      },
    },
    async (request) => {
      const { limit, before } = pageQueryOf(request, "whk");
      const rows = await listOrgWebhooks(orgScope(api, request), { before, limit: limit + 1 });
      const { page, next } = pageOf(rows, limit, (r) => r.id);
      return { object: "list", data: page.map((r) => webhookView(r)), next_cursor: next };
    },
  );

  app.get(
    "/v1/webhooks/:id",
    {
      config: manage,
      schema: {
        summary: "One webhook endpoint",
        tags: ["webhooks"],
        params: idParam,
        response: { 200: webhookSchema },
      },
    },
    async (request) => webhookView(await getWebhook(orgScope(api, request), id(request))),
  );

  app.put(
    "/v1/webhooks/:id",
    {
      config: manage,
      schema: {
        summary: "Change a webhook endpoint",
        description:
          "Any of `url`, `event_types`, `enabled`. `enabled: true` also re-enables an endpoint disabled " +
          "after persistent failures. Recorded in the audit log.",
        tags: ["webhooks"],
        params: idParam,
        body: bodySchema,
        response: { 200: webhookSchema },
      },
    },
    async (request) => {
      const c = change(objectBody(request.body, FIELDS));
      return webhookView(
        await changeWebhook(deps, orgScope(api, request), id(request), c, requestActor(request)),
      );
    },
  );

  app.delete(
    "/v1/webhooks/:id",
    {
      config: manage,
      schema: {
        summary: "Delete a webhook endpoint and its delivery log",
        description: "Recorded in the audit log.",
        tags: ["webhooks"],
        params: idParam,
      },
    },
    async (request, reply) => {
      await removeWebhook(deps, orgScope(api, request), id(request), requestActor(request));
      return reply.code(204).send();
    },
  );

  app.post(
    "/v1/webhooks/:id/rotate-secret",
    {
      config: manage,
      schema: {
        summary: "Rotate an endpoint's signing secret",
        description:
          `\`overlap_hours\` (0-${MAX_OVERLAP_HOURS}, default 24): how long deliveries carry a signature under ` +
          "the old secret too (space-separated in webhook-signature). The new `secret` is shown only here. " +
          "Recorded in the audit log.",
        tags: ["webhooks"],
        params: idParam,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            overlap_hours: { type: "integer", minimum: 0, maximum: MAX_OVERLAP_HOURS, default: 24 },
          },
        },
        response: { 200: webhookSchema },
      },
    },
    async (request) => {
      const body = objectBody(request.body, ["overlap_hours"]);
      const hours = optionalInteger(body, "overlap_hours") ?? 24;
      const r = await rotateWebhookSecret(
        deps,
        orgScope(api, request),
        id(request),
        hours,
        requestActor(request),
      );
      return webhookView(r.row, r.secret);
    },
  );

  app.post(
    "/v1/webhooks/:id/test",
    {
      config: manage,
      schema: {
        summary: "Queue a test delivery (type webhook.test) to the endpoint",
        tags: ["webhooks"],
        params: idParam,
        response: { 202: webhookDeliverySchema },
      },
    },
    async (request, reply) => {
      const d = await queueTest(deps, orgScope(api, request), id(request));
      return reply.code(202).send(webhookDeliveryView(d));
    },
  );

  app.get(
    "/v1/webhooks/:id/deliveries",
    {
      config: manage,
      schema: {
        summary: "The endpoint's delivery log, newest first",
        tags: ["webhooks"],
        params: idParam,
        querystring: pageQuerySchema,
      },
    },
    async (request) => {
      const { limit, before } = pageQueryOf(request, "whd");
      const rows = await deliveriesOfWebhook(orgScope(api, request), id(request), {
        before,
        limit: limit + 1,
      });
      const { page, next } = pageOf(rows, limit, (r) => r.id);
      return { object: "list", data: page.map(webhookDeliveryView), next_cursor: next };
    },
  );
}

function pageQueryOf(request: FastifyRequest, prefix: string): { limit: number; before: string | undefined } {
  const q = request.query as Record<string, unknown>;
  for (const k of Object.keys(q))
    if (k !== "limit" && k !== "cursor")
      throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
  return pageQuery(q, prefix);
}
