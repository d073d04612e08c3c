import type { FastifyInstance, FastifyRequest } from "fastify";
import { parseBareAddress } from "../../core/address.ts";
import { SealpostError } from "../../core/errors.ts";
import { newId } from "../../core/ids.ts";
import { hasScope } from "../../core/principal.ts";
import { submitBatch, submitMessage } from "../../core/submit.ts";
import { blindIndex } from "../../crypto/blind-index.ts";
import { cancelPending, deliveriesOf, eventsOf, findMessage, listMessages } from "../../store/messages.ts";
import type { DeliveryStatus } from "../../store/schema.ts";
import { orgSnapshot } from "../../store/scope.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";
import { classify } from "../problem.ts";
import { messageDek, messageView } from "../views.ts";
import { idParam, sendBatchBody, sendMessageBody } from "./schemas.ts";

const STATUSES: readonly DeliveryStatus[] = [
  "scheduled",
  "queued",
  "sending",
  "deferred",
  "delivered",
  "failed",
  "cancelled",
];

function idempotencyKey(request: FastifyRequest): string | undefined {
  const raw = request.headers["idempotency-key"];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string")
    throw new SealpostError("invalid_idempotency_key", {
      field: "Idempotency-Key",
      detail: "Send one Idempotency-Key header.",
    });
  return raw;
}

function param(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

function timeParam(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new SealpostError("invalid_value", { field, detail: `${field} must be an ISO 8601 time.` });
  return ms;
}

export function registerMessageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    "/v1/messages",
    {
      config: access({ scope: "messages:send" }),
      schema: {
        summary: "Send a message",
        description: "Answers 202 once the message is durably stored, with one delivery per recipient.",
        tags: ["messages"],
        body: sendMessageBody,
        headers: { type: "object", properties: { "idempotency-key": { type: "string", maxLength: 255 } } },
      },
    },
    async (request, reply) => {
      const result = await submitMessage(deps.submit, principalOf(request), request.body, {
        idempotencyKey: idempotencyKey(request),
      });
      return reply.code(202).send(result);
    },
  );

  app.post(
    "/v1/messages/batch",
    {
      config: access({ scope: "messages:send" }),
      schema: {
        summary: "Send up to 500 messages in one request",
        description:
          "Each message is validated and accepted on its own; all accepted ones are stored in one " +
          "durable commit. Answers 200 with one result per message, in request order: " +
          "`status` 202 with the message, or a 4xx `status` with an RFC 9457 problem.",
        tags: ["messages"],
        body: sendBatchBody,
        headers: { type: "object", properties: { "idempotency-key": { type: "string", maxLength: 255 } } },
      },
    },
    async (request) => {
      const results = await submitBatch(deps.submit, principalOf(request), request.body, {
        idempotencyKey: idempotencyKey(request),
      });
      const data = results.map((r) => {
        if ("result" in r) return { index: r.index, status: 202, message: r.result };
        const problem = classify(r.error);
        return { index: r.index, status: problem.status, error: problem };
      });
      const accepted = data.filter((d) => d.status === 202).length;
      return { object: "batch", accepted, rejected: data.length - accepted, data };
    },
  );

  app.get(
    "/v1/messages/:id",
    {
      config: access({ scope: "messages:read" }),
      schema: {
        summary: "Get a message: per-recipient status, evidence and events",
        description:
          "`?include=content` adds the decrypted content; it needs the messages:read_content scope. " +
          "After the org's content retention period the content is destroyed: `content_purged_at` " +
          "is set, recipients read null, and `?include=content` answers 410 content_purged.",
        tags: ["messages"],
        params: idParam,
        querystring: { type: "object", properties: { include: { type: "string", enum: ["content"] } } },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const query = request.query as { include?: unknown };
      const wantContent = query.include === "content";
      if (query.include !== undefined && !wantContent)
        throw new SealpostError("invalid_value", { field: "include", detail: "include must be content." });
      if (wantContent && !hasScope(principal, "messages:read_content"))
        throw new SealpostError("forbidden", {
          detail: "Reading content needs the messages:read_content scope.",
        });
      const scope = orgScope(deps, request);
      const m = await findMessage(scope, param(request));
      if (m === undefined) throw new SealpostError("not_found");
      // Retention shredded the content: the metadata and evidence below remain.
      if (wantContent && m.content_purged_at !== null) throw new SealpostError("content_purged");
      // One snapshot: a delivery's status and its events agree even while a worker records.
      const [deliveries, events] = await orgSnapshot(scope, async (tx) => [
        await deliveriesOf(tx, [m.id]),
        await eventsOf(tx, m.id),
      ]);
      const dek = await messageDek(deps.keyring, m);
      return messageView(m, deliveries, dek, { events, content: wantContent });
    },
  );

  app.get(
    "/v1/messages",
    {
      config: access({ scope: "messages:read" }),
      schema: {
        summary: "List messages, newest first",
        tags: ["messages"],
        querystring: {
          type: "object",
          properties: {
            status: { type: "string", enum: [...STATUSES] },
            recipient: { type: "string" },
            tag: { type: "string" },
            from: { type: "string", format: "date-time" },
            to: { type: "string", format: "date-time" },
            limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
            cursor: { type: "string" },
          },
        },
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const q = request.query as Record<string, unknown>;
      for (const k of Object.keys(q))
        if (!["status", "recipient", "tag", "from", "to", "limit", "cursor"].includes(k))
          throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
      const { limit, before } = pageQuery(q, "msg");
      if (q.status !== undefined && !STATUSES.includes(q.status as DeliveryStatus))
        throw new SealpostError("invalid_value", {
          field: "status",
          detail: `status must be one of ${STATUSES.join(", ")}.`,
        });
      let recipientBidx: string | undefined;
      if (q.recipient !== undefined) {
        const parsed = typeof q.recipient === "string" ? parseBareAddress(q.recipient) : null;
        if (parsed === null) throw new SealpostError("invalid_address", { field: "recipient" });
        recipientBidx = blindIndex(
          (await deps.keyring.orgKeys(scope.orgId)).indexKey,
          parsed.address,
          "address",
        );
      }
      if (q.tag !== undefined && (typeof q.tag !== "string" || !/^[A-Za-z0-9_.:-]{1,64}$/.test(q.tag)))
        throw new SealpostError("invalid_value", {
          field: "tag",
          detail: "tag must be 1-64 characters of A-Z a-z 0-9 _ . : -",
        });
      const rows = await listMessages(scope, {
        limit: limit + 1,
        ...(q.status === undefined ? {} : { status: q.status as DeliveryStatus }),
        ...(recipientBidx === undefined ? {} : { recipientBidx }),
        ...(q.tag === undefined ? {} : { tag: q.tag as string }),
        ...(q.from === undefined ? {} : { from: timeParam(q.from, "from") }),
        ...(q.to === undefined ? {} : { to: timeParam(q.to, "to") }),
        ...(before === undefined ? {} : { before }),
      });
      const { page, next } = pageOf(rows, limit, (m) => m.id);
      const deliveries = await deliveriesOf(
        scope,
        page.map((m) => m.id),
      );
      const data = await Promise.all(
        page.map(async (m) =>
          messageView(
            m,
            deliveries.filter((d) => d.message_id === m.id),
            await messageDek(deps.keyring, m),
          ),
        ),
      );
      return { object: "list", data, next_cursor: next };
    },
  );

  app.post(
    "/v1/messages/:id/cancel",
    {
      config: access({ scope: "messages:send" }),
      schema: {
        summary: "Cancel the deliveries of a message that have not gone out",
        tags: ["messages"],
        params: idParam,
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const m = await findMessage(scope, param(request));
      if (m === undefined) throw new SealpostError("not_found");
      const now = deps.clock.now();
      const cancelled = await cancelPending(
        scope,
        m.id,
        now,
        (deliveryId) => ({
          id: newId("evt", now),
          org_id: scope.orgId,
          message_id: m.id,
          delivery_id: deliveryId,
          type: "cancelled",
          created_at: now,
          details: "{}",
        }),
        await deps.webhooks.outbox.planFor([scope.orgId]),
      );
      if (cancelled.length === 0)
        throw new SealpostError("invalid_state", {
          detail: "No delivery of this message is still waiting to be sent.",
        });
      const deliveries = await deliveriesOf(scope, [m.id]);
      return { ...messageView(m, deliveries, await messageDek(deps.keyring, m)), cancelled };
    },
  );
}
