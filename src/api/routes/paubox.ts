import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isSealpostError, SealpostError } from "../../core/errors.ts";
import { messageIdHeader } from "../../core/mime.ts";
import type { Principal } from "../../core/principal.ts";
import { type SubmitResult, submitMessage } from "../../core/submit.ts";
import { deliveriesOf, findMessage } from "../../store/messages.ts";
import { openRecipient } from "../../worker/prepare.ts";
import { type CredentialScheme, guard, principalOf } from "../auth.ts";
import type { ApiDeps } from "../context.ts";
import { type PauboxErrorItem, pauboxError, pauboxErrorHandler } from "../paubox/errors.ts";
import { pauboxBulkBody, pauboxReceiptQuery, pauboxSendBody } from "../paubox/schemas.ts";
import { receiptStatus } from "../paubox/status.ts";
import { dataOf, inPauboxTerms, type Translated, translateMessage } from "../paubox/translate.ts";
import { messageDek } from "../views.ts";

/**
 * The Paubox Email API (send, bulk send, message receipt), so an application written for
 * it switches by changing its base URL and key. Each request is translated and handed to
 * the one submit path; answers and errors take Paubox's shapes. See
 * docs/paubox-compatibility.md for every difference kept on purpose.
 *
 * Mounted twice: `/v1/{username}/…` (the documented Paubox layout; the username is ignored,
 * the key names the org) and `/paubox/v1/…` (the username-less layout of the current
 * official SDK, whose `/v1/messages` is sealpost's own API).
 */
export const PAUBOX_TOKEN: CredentialScheme = {
  // Paubox takes `Token token=<key>` (quoted or not, options after a comma), `Token <key>`
  // and `Bearer <key>`.
  token(header) {
    const m = /^(?:token|bearer)\s+(?:token=("?)([^\s",]+)\1|(?!token=)([^\s",]+))\s*(?:,.*)?$/i.exec(header);
    const token = m?.[2] ?? m?.[3];
    return token !== undefined && /^[\x21-\x7e]+$/.test(token) ? token : null;
  },
  challenge: 'Token realm="sealpost"',
};

/** sealpost message ids and Paubox's UUIDs may be echoed back; anything else might be PHI. */
const ECHOABLE_ID = /^(?:msg_[0-9a-z]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const MESSAGE_ID = /^msg_[0-9a-z]{26}$/;
const MAX_BULK = 500;
/** Bulk messages are submitted this many at a time (the group commit batches them). */
const BULK_CONCURRENCY = 25;

interface SendAnswer {
  sourceTrackingId: string;
  customHeaders: Record<string, string>;
  data: "Service OK";
}

async function submitTranslated(
  deps: ApiDeps,
  principal: Principal,
  t: Translated,
  at: string,
): Promise<SendAnswer> {
  let result: SubmitResult;
  try {
    result = await submitMessage(deps.submit, principal, t.input);
  } catch (err) {
    throw inPauboxTerms(err, at);
  }
  return { sourceTrackingId: result.id, customHeaders: t.customHeaders, data: "Service OK" };
}

/** One bulk item: its answer, or its errors (the other items are still sent). */
async function bulkItem(
  deps: ApiDeps,
  principal: Principal,
  message: unknown,
  at: string,
): Promise<SendAnswer | { status: number; errors: PauboxErrorItem[] }> {
  try {
    return await submitTranslated(deps, principal, translateMessage(message, at), at);
  } catch (err) {
    const { status, body } = pauboxError(err);
    if (!isSealpostError(err)) deps.logger.error({ err, item: at }, "bulk item failed");
    return { status, errors: body.errors };
  }
}

function notYet(what: string) {
  return async (): Promise<void> => {
    throw new SealpostError("not_supported", {
      detail: `${what} are not available in this version of sealpost.`,
    });
  };
}

function pauboxRoutes(scope: FastifyInstance, deps: ApiDeps, documented: boolean): void {
  scope.setErrorHandler(pauboxErrorHandler(deps.logger));
  const doc = (schema: Record<string, unknown>) => ({ ...schema, tags: ["paubox"], hide: !documented });

  scope.post(
    "/messages",
    {
      preHandler: guard(deps, "messages:send", PAUBOX_TOKEN),
      schema: doc({
        summary: "Paubox: send a message",
        description:
          "Paubox's `data.message`, answered 200 with `sourceTrackingId` (the sealpost message id) once the message is durably stored.",
        body: pauboxSendBody,
      }),
    },
    async (request) => {
      const t = translateMessage(dataOf(request.body).message, "data.message");
      return submitTranslated(deps, principalOf(request), t, "data.message");
    },
  );

  scope.post(
    "/bulk_messages",
    {
      preHandler: guard(deps, "messages:send", PAUBOX_TOKEN),
      schema: doc({
        summary: "Paubox: send several messages",
        description: `Up to ${MAX_BULK} messages, each submitted on its own; answers in request order.`,
        body: pauboxBulkBody,
      }),
    },
    async (request, reply) => {
      const messages = dataOf(request.body).messages;
      if (!Array.isArray(messages) || messages.length === 0)
        throw new SealpostError(messages === undefined ? "missing_field" : "invalid_value", {
          field: "data.messages",
          detail: "data.messages must be a list of at least one message.",
        });
      if (messages.length > MAX_BULK)
        throw new SealpostError("invalid_value", {
          field: "data.messages",
          detail: `data.messages holds at most ${MAX_BULK} messages.`,
        });
      const principal = principalOf(request);
      const answers = [];
      for (let i = 0; i < messages.length; i += BULK_CONCURRENCY)
        answers.push(
          ...(await Promise.all(
            messages
              .slice(i, i + BULK_CONCURRENCY)
              .map((m, j) => bulkItem(deps, principal, m, `data.messages[${i + j}]`)),
          )),
        );
      const failed = answers.filter((a) => "errors" in a);
      // Nothing sent: a plain error answer. Anything sent: 200, so no sent id is lost.
      if (failed.length === answers.length)
        return reply.code(failed[0]?.status ?? 400).send({ errors: failed.flatMap((a) => a.errors) });
      return { messages: answers.map((a) => ("errors" in a ? { errors: a.errors } : a)) };
    },
  );

  scope.get(
    "/message_receipt",
    {
      preHandler: guard(deps, "messages:read", PAUBOX_TOKEN),
      schema: doc({
        summary: "Paubox: message receipt",
        description:
          "Per-recipient `deliveryStatus` in Paubox's terms; see docs/paubox-compatibility.md for the mapping.",
        querystring: pauboxReceiptQuery,
      }),
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const principal = principalOf(request);
      const id = (request.query as Record<string, unknown>).sourceTrackingId;
      if (typeof id !== "string" || id === "")
        throw new SealpostError("missing_field", {
          field: "sourceTrackingId",
          detail: "sourceTrackingId is required, once.",
        });
      const m = MESSAGE_ID.test(id) ? await findMessage(deps.db, principal.orgId, id) : undefined;
      if (m === undefined)
        return reply.code(404).send({
          errors: [
            {
              code: 404,
              title: "Message was not found",
              details: "Message with this tracking id was not found",
            },
          ],
          sourceTrackingId: ECHOABLE_ID.test(id) ? id : null,
        });
      const [deliveries, dek] = await Promise.all([
        deliveriesOf(deps.db, principal.orgId, [m.id]),
        messageDek(deps.keyring, m),
      ]);
      return {
        sourceTrackingId: m.id,
        data: {
          message: {
            id: messageIdHeader(m.id, `@${m.from_domain}`),
            message_deliveries: deliveries.map((d) => ({
              recipient: dek === null ? null : openRecipient(dek, d),
              status: receiptStatus(d),
            })),
          },
        },
      };
    },
  );

  // Templates do not exist yet (a later issue): authenticated, then a Paubox-shaped refusal.
  // onRequest, so a multipart template upload is refused before its body is read.
  const templates = { onRequest: [guard(deps, "messages:send", PAUBOX_TOKEN), notYet("Templates")] };
  const hidden = { schema: { hide: true } };
  scope.post("/templated_messages", { ...templates, ...hidden }, async () => ({}));
  scope.get("/dynamic_templates", { ...templates, ...hidden }, async () => ({}));
  scope.post("/dynamic_templates", { ...templates, ...hidden }, async () => ({}));
  scope.get("/dynamic_templates/:id", { ...templates, ...hidden }, async () => ({}));
  scope.patch("/dynamic_templates/:id", { ...templates, ...hidden }, async () => ({}));
  scope.delete("/dynamic_templates/:id", { ...templates, ...hidden }, async () => ({}));
}

export function registerPauboxRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.register(
    async (scope) => {
      pauboxRoutes(scope, deps, true);
      scope.setNotFoundHandler((_request, reply) => {
        const { status, body } = pauboxError(new SealpostError("route_not_found"));
        return reply.code(status).send(body);
      });
    },
    { prefix: "/paubox/v1" },
  );
  // The same routes at Paubox's own paths. Not in the OpenAPI document twice: /v1/* there
  // is sealpost's Bearer API (test/api/auth.test.ts holds every documented /v1 route).
  app.register(async (scope) => pauboxRoutes(scope, deps, false), { prefix: "/v1/:username" });
}
