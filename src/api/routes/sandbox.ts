import type { FastifyInstance } from "fastify";
import { simpleParser } from "mailparser";
import { SealpostError } from "../../core/errors.ts";
import { open } from "../../crypto/aead.ts";
import { toBuffer } from "../../store/db.ts";
import { findDelivery, findMessage } from "../../store/messages.ts";
import { findSandbox, listSandbox } from "../../store/sandbox.ts";
import type { SandboxTable } from "../../store/schema.ts";
import type { OrgScope } from "../../store/scope.ts";
import { openRecipient } from "../../worker/prepare.ts";
import { sandboxAad } from "../../worker/steps.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";
import { messageDek } from "../views.ts";
import { idParam } from "./schemas.ts";

/**
 * The sandbox inbox: what test-mode messages would have delivered, captured per
 * recipient. Shows content, so it needs messages:read_content.
 */
async function view(deps: ApiDeps, scope: OrgScope, row: SandboxTable, full: boolean) {
  const m = await findMessage(scope, row.message_id);
  const delivery = await findDelivery(scope, row.delivery_id);
  const dek = m === undefined ? null : await messageDek(deps.keyring, m);
  if (dek === null || delivery === undefined)
    return { id: row.delivery_id, message_id: row.message_id, shredded: true };
  const raw = open(dek, toBuffer(row.raw), sandboxAad(row.delivery_id));
  const parsed = await simpleParser(raw);
  return {
    id: row.delivery_id,
    message_id: row.message_id,
    captured_at: new Date(row.created_at).toISOString(),
    envelope_to: openRecipient(dek, delivery),
    subject: parsed.subject ?? "",
    from: parsed.from?.text ?? "",
    ...(full
      ? {
          text: parsed.text ?? null,
          html: typeof parsed.html === "string" ? parsed.html : null,
          headers: Object.fromEntries(
            parsed.headerLines.map((h) => [h.key, h.line.slice(h.key.length + 1).trim()]),
          ),
          attachments: parsed.attachments.map((a) => ({
            filename: a.filename ?? null,
            content_type: a.contentType,
            size: a.size,
          })),
          raw: raw.toString("base64"),
        }
      : {}),
  };
}

/** No captured copy: retention destroyed it with its message's content (410), or there never was one. */
async function missingSandbox(scope: OrgScope, deliveryId: string): Promise<SealpostError> {
  const delivery = await findDelivery(scope, deliveryId);
  const m = delivery === undefined ? undefined : await findMessage(scope, delivery.message_id);
  return m?.mode === "test" && m.content_purged_at !== null
    ? new SealpostError("content_purged")
    : new SealpostError("not_found");
}

export function registerSandboxRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/sandbox/messages",
    {
      config: access({ scope: "messages:read_content" }),
      schema: {
        summary: "List the sandbox inbox, newest first",
        tags: ["sandbox"],
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 100 }, cursor: { type: "string" } },
        },
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const { limit, before } = pageQuery(request.query as { limit?: unknown; cursor?: unknown }, "dlv");
      const rows = await listSandbox(scope, before, limit + 1);
      const { page, next } = pageOf(rows, limit, (r) => r.delivery_id);
      return {
        object: "list",
        data: await Promise.all(page.map((r) => view(deps, scope, r, false))),
        next_cursor: next,
      };
    },
  );

  app.get(
    "/v1/sandbox/messages/:id",
    {
      config: access({ scope: "messages:read_content" }),
      schema: {
        summary: "One captured sandbox message (by delivery id)",
        tags: ["sandbox"],
        params: idParam,
      },
    },
    async (request) => {
      const scope = orgScope(deps, request);
      const id = (request.params as { id: string }).id;
      const row = await findSandbox(scope, id);
      if (row === undefined) throw await missingSandbox(scope, id);
      return view(deps, scope, row, true);
    },
  );
}
