import type { FastifyInstance } from "fastify";
import { requestActor } from "../../audit/entries.ts";
import { revokeMessage } from "../../portal/revoke.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { idParam } from "./schemas.ts";

/**
 * POST /v1/messages/{id}/revoke (ADR 0010 §6): the sender withdraws a message from the
 * secure portal; every link of it stops working. 404 for a message not in the caller's org.
 */
export function registerPortalRevokeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    "/v1/messages/:id/revoke",
    {
      config: access({ scope: "messages:send" }),
      schema: {
        summary: "Revoke the secure-portal links of a message",
        description:
          "Every portal link of the message stops working at once (open sessions and codes too). " +
          "Answers how many links were revoked; revoking again revokes none. Each revocation is audited.",
        tags: ["messages"],
        params: idParam,
        response: {
          200: {
            type: "object",
            properties: { revoked: { type: "integer", minimum: 0 } },
          },
        },
      },
    },
    async (request) => {
      const id = (request.params as { id: string }).id;
      const revoked = await revokeMessage(
        { ...deps, webhookOutbox: deps.webhooks.outbox },
        orgScope(deps, request),
        id,
        requestActor(principalOf(request), request),
      );
      return { revoked };
    },
  );
}
