import type { FastifyInstance } from "fastify";
import { PIXEL_GIF } from "../../opens/pixel.ts";
import { recordOpen } from "../../opens/record.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";

/**
 * The open-tracking pixel (ADR 0011 §6): `GET /t/o/<token>.gif`, public (the mail client
 * loading the image has no credentials; the token's HMAC is what it proves). A valid token
 * records the message's `opened` event once; every answer, whatever the token, is the same
 * GIF with `Cache-Control: no-store`, so the route tells nobody whether a token is good.
 */
export function registerOpenRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/t/o/:token.gif",
    {
      config: access({ public: "the open-tracking pixel: the token's HMAC authenticates it (ADR 0011 §6)" }),
      schema: {
        summary: "Open-tracking pixel",
        description:
          "Inserted into messages of orgs with `track_opens` on, never into a message with PHI findings. Always answers a 1×1 GIF.",
        tags: ["opens"],
        params: { type: "object", properties: { token: { type: "string" } } },
      },
    },
    async (request, reply) => {
      const token = (request.params as { token?: unknown }).token;
      if (typeof token === "string")
        await recordOpen({ ...deps, outbox: deps.webhooks.outbox }, token).catch((err: unknown) => {
          // The store failed: the open is lost, the image still loads. The token is not logged.
          deps.logger.error({ err, reqId: request.id }, "open not recorded");
        });
      return reply
        .header("cache-control", "no-store, max-age=0")
        .header("pragma", "no-cache")
        .type("image/gif")
        .send(PIXEL_GIF);
    },
  );
}
