import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isSealpostError, SealpostError } from "../../core/errors.ts";
import { messageIdHeader } from "../../core/mime.ts";
import type { Principal } from "../../core/principal.ts";
import { MAX_BATCH_MESSAGES, type SubmitResult, submitBatch, submitMessage } from "../../core/submit.ts";
import { openedAt } from "../../opens/record.ts";
import { deliveriesOf, findMessage } from "../../store/messages.ts";
import { openRecipient } from "../../worker/prepare.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { registerDynamicTemplates } from "../paubox/dynamic-templates.ts";
import { type PauboxErrorItem, pauboxError, pauboxErrorHandler } from "../paubox/errors.ts";
import {
  pauboxBulkBody,
  pauboxReceiptQuery,
  pauboxSendBody,
  pauboxTemplatedBody,
} from "../paubox/schemas.ts";
import { receiptStatus } from "../paubox/status.ts";
import { templatedErrorTerms, translateTemplated } from "../paubox/templated.ts";
import { dataOf, inPauboxTerms, type Translated, translateMessage } from "../paubox/translate.ts";
import { messageDek } from "../views.ts";

/**
 * The Paubox Email API (send, bulk send, message receipt, dynamic templates and templated
 * messages), so an application written for it switches by changing its base URL and key. Each request is translated and handed to
 * the one submit path; answers and errors take Paubox's shapes. See
 * docs/paubox-compatibility.md for every difference kept on purpose.
 *
 * Mounted twice: `/v1/{username}/…` (the documented Paubox layout; the username is ignored,
 * the key names the org) and `/paubox/v1/…` (the username-less layout of the current
 * official SDK, whose `/v1/messages` is sealpost's own API).
 *
 * Every route declares `scheme: "paubox"`: besides sealpost's methods it takes Paubox's
 * `Token token=<key>`, and a 401 challenges `Token` first (api/authn-hook.ts).
 */

/** sealpost message ids and Paubox's UUIDs may be echoed back; anything else might be PHI. */
const ECHOABLE_ID = /^(?:msg_[0-9a-z]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const MESSAGE_ID = /^msg_[0-9a-z]{26}$/;
const MAX_BULK = MAX_BATCH_MESSAGES;

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

type BulkAnswer = SendAnswer | { status: number; errors: PauboxErrorItem[] };

/**
 * A bulk request: each message is translated on its own, then every translated one goes
 * to submitBatch, so the accepted ones are stored in one durable commit. An item's coded
 * error (from translating or from the submit path) takes its place in the answer; anything
 * else fails the whole request and nothing is stored.
 */
async function bulkSend(deps: ApiDeps, principal: Principal, messages: unknown[]): Promise<BulkAnswer[]> {
  const itemError = (err: unknown): BulkAnswer => {
    const { status, body } = pauboxError(err);
    return { status, errors: body.errors };
  };
  const answers: (BulkAnswer | Translated)[] = messages.map((message, i) => {
    try {
      return translateMessage(message, `data.messages[${i}]`);
    } catch (err) {
      // Translation names the Paubox fields itself.
      if (!isSealpostError(err)) throw err;
      return itemError(err);
    }
  });
  const inputs = answers.flatMap((a) => ("input" in a ? [a.input] : []));
  if (inputs.length === 0) return answers.filter((a): a is BulkAnswer => !("input" in a));
  const results = (await submitBatch(deps.submit, principal, { messages: inputs })).values();
  return answers.map((a, i) => {
    if (!("input" in a)) return a;
    const r = results.next().value;
    // submitBatch answers every item it is given, in order; anything else is a bug.
    if (r === undefined) throw new Error("submitBatch answered fewer items than it was given");
    return "result" in r
      ? { sourceTrackingId: r.result.id, customHeaders: a.customHeaders, data: "Service OK" }
      : itemError(inPauboxTerms(r.error, `data.messages[${i}]`));
  });
}

async function pauboxRoutes(scope: FastifyInstance, deps: ApiDeps, documented: boolean): Promise<void> {
  scope.setErrorHandler(pauboxErrorHandler(deps.logger));
  const doc = (schema: Record<string, unknown>) => ({ ...schema, tags: ["paubox"], hide: !documented });

  scope.post(
    "/messages",
    {
      config: access({ scope: "messages:send", scheme: "paubox" }),
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
      config: access({ scope: "messages:send", scheme: "paubox" }),
      schema: doc({
        summary: "Paubox: send several messages",
        description: `Up to ${MAX_BULK} messages, each validated on its own and all accepted ones stored in one durable commit; answers in request order.`,
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
      const answers = await bulkSend(deps, principalOf(request), messages);
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
      config: access({ scope: "messages:read", scheme: "paubox" }),
      schema: doc({
        summary: "Paubox: message receipt",
        description:
          "Per-recipient `deliveryStatus` in Paubox's terms; see docs/paubox-compatibility.md for the mapping.",
        querystring: pauboxReceiptQuery,
      }),
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const scope = orgScope(deps, request);
      const id = (request.query as Record<string, unknown>).sourceTrackingId;
      if (typeof id !== "string" || id === "")
        throw new SealpostError("missing_field", {
          field: "sourceTrackingId",
          detail: "sourceTrackingId is required, once.",
        });
      const m = MESSAGE_ID.test(id) ? await findMessage(scope, id) : undefined;
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
      const [deliveries, dek, opened] = await Promise.all([
        deliveriesOf(scope, [m.id]),
        messageDek(deps.keyring, m),
        openedAt(scope, m.id),
      ]);
      return {
        sourceTrackingId: m.id,
        data: {
          message: {
            id: messageIdHeader(m.id, `@${m.from_domain}`),
            message_deliveries: deliveries.map((d) => ({
              recipient: dek === null ? null : openRecipient(dek, d),
              status: receiptStatus(d, opened),
            })),
          },
        },
      };
    },
  );

  scope.post(
    "/templated_messages",
    {
      config: access({ scope: "messages:send", scheme: "paubox" }),
      schema: doc({
        summary: "Paubox: send a message from a dynamic template",
        description:
          "`data.template_name`, `data.template_values` (a JSON string) and `data.message` without content; the subject is `data.message.headers.subject`. Rendered and sent through the one submit path.",
        body: pauboxTemplatedBody,
      }),
    },
    async (request) => {
      const t = await translateTemplated(orgScope(deps, request), dataOf(request.body));
      let result: SubmitResult;
      try {
        result = await submitMessage(deps.submit, principalOf(request), t.input);
      } catch (err) {
        throw inPauboxTerms(templatedErrorTerms(err), "data.message");
      }
      return { sourceTrackingId: result.id, customHeaders: t.customHeaders, data: "Service OK" };
    },
  );

  await registerDynamicTemplates(scope, deps, doc);
}

export function registerPauboxRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.register(
    async (scope) => {
      await pauboxRoutes(scope, deps, true);
      scope.setNotFoundHandler((_request, reply) => {
        const { status, body } = pauboxError(new SealpostError("route_not_found"));
        return reply.code(status).send(body);
      });
    },
    { prefix: "/paubox/v1" },
  );
  // The same routes at Paubox's own paths. Not in the OpenAPI document twice: /v1/* there
  // is sealpost's Bearer API (test/api/auth.test.ts holds every documented /v1 route).
  app.register((scope) => pauboxRoutes(scope, deps, false), { prefix: "/v1/:username" });
}
