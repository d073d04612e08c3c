import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance } from "fastify";
import type { ApiDeps } from "./context.ts";
import { clientErrorHandler, expectationHandler } from "./http-errors.ts";
import { errorHandler, frameworkErrorCode, problemFor, sendProblem } from "./problem.ts";
import { registerDomainRoutes } from "./routes/domains.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerMessageRoutes } from "./routes/messages.ts";
import { registerPauboxRoutes } from "./routes/paubox.ts";
import { registerSandboxRoutes } from "./routes/sandbox.ts";
import { registerSuppressionRoutes } from "./routes/suppressions.ts";
import { registerHeaderToolRoutes } from "./routes/tools-headers.ts";
import { registerTlsCheckRoutes } from "./routes/tools-tls.ts";

/**
 * Builds the HTTP API. Request logging is ours (allow-listed fields only): Fastify's own
 * request logs would include URLs with query strings, which can carry addresses.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // requireHostHeader off: a request without Host gets a problem from the hook below,
    // not Node's empty 400.
    ...(deps.https === null
      ? { http: { requireHostHeader: false } }
      : { https: { ...deps.https, minVersion: "TLSv1.2" as const, requireHostHeader: false } }),
    clientErrorHandler,
    logger: false,
    bodyLimit: deps.bodyLimit,
    genReqId: () => `req_${crypto.randomUUID().replaceAll("-", "")}`,
    ajv: { customOptions: { strict: false } },
    routerOptions: { maxParamLength: 512 },
    // Errors raised before routing (a malformed URL) get the same problem+json as the rest.
    frameworkErrors: (err, request, reply) =>
      sendProblem(reply, { ...problemFor(frameworkErrorCode(err.code)), instance: request.id }),
  });
  // Requests are validated by src/core/validate.ts; route schemas only document them.
  app.setValidatorCompiler(() => () => true);
  // The API speaks JSON only; other bodies get 415 unsupported_media_type.
  app.removeContentTypeParser("text/plain");
  app.decorateRequest("principal", null);
  app.setErrorHandler(errorHandler(deps.logger));
  app.server.on("checkExpectation", expectationHandler);
  // HTTP/1.1 requires Host (RFC 9112 §3.2).
  app.addHook("onRequest", async (request, reply) => {
    if (request.headers.host === undefined)
      return sendProblem(reply, { ...problemFor("malformed_request"), instance: request.id });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { ...problemFor("route_not_found"), instance: request.id }),
  );
  app.addHook("onResponse", async (request, reply) => {
    deps.logger.info(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? "?",
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime),
        keyId: request.principal?.keyId ?? null,
      },
      "request",
    );
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "sealpost API",
        version: "0.1.0",
        description: "Self-hostable email API for healthcare: enforced TLS, encryption at rest, audit trail.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  registerHealthRoutes(app, deps);
  registerMessageRoutes(app, deps);
  registerSandboxRoutes(app, deps);
  registerDomainRoutes(app, deps);
  registerSuppressionRoutes(app, deps);
  registerTlsCheckRoutes(app, deps);
  registerHeaderToolRoutes(app, deps);
  registerPauboxRoutes(app, deps);
  return app;
}
