import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance } from "fastify";
import { access, enforceAccess, securitySchemes } from "./access.ts";
import { registerAuditHook } from "./audit-hook.ts";
import { createAuthn } from "./authn-hook.ts";
import type { ApiDeps } from "./context.ts";
import { clientErrorHandler, expectationHandler } from "./http-errors.ts";
import { errorHandler, frameworkErrorCode, problemFor, sendProblem } from "./problem.ts";
import { registerAdminRoutes } from "./routes/admin.ts";
import { registerApiKeyRoutes } from "./routes/api-keys.ts";
import { registerAuditRoutes } from "./routes/audit.ts";
import { registerDomainRoutes } from "./routes/domains.ts";
import { registerEventRoutes } from "./routes/events.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerLegalHoldRoutes } from "./routes/legal-holds.ts";
import { registerMessageRoutes } from "./routes/messages.ts";
import { registerOAuthRoutes } from "./routes/oauth.ts";
import { registerOpenRoutes } from "./routes/opens.ts";
import { registerPauboxRoutes } from "./routes/paubox.ts";
import { registerPolicyRoutes } from "./routes/policy.ts";
import { registerPortalRoutes } from "./routes/portal.ts";
import { registerPortalRevokeRoutes } from "./routes/portal-revoke.ts";
import { registerRecipientKeyRoutes } from "./routes/recipient-keys.ts";
import { registerReportRoutes } from "./routes/reports.ts";
import { registerRetentionRoutes } from "./routes/retention.ts";
import { registerSandboxRoutes } from "./routes/sandbox.ts";
import { registerStatsRoutes } from "./routes/stats.ts";
import { registerSuppressionRoutes } from "./routes/suppressions.ts";
import { registerTemplateRoutes } from "./routes/templates.ts";
import { registerHeaderToolRoutes } from "./routes/tools-headers.ts";
import { registerTlsCheckRoutes } from "./routes/tools-tls.ts";
import { registerWebhookRoutes } from "./routes/webhooks.ts";
import { registerWellKnownRoutes } from "./routes/well-known.ts";

/**
 * Builds the HTTP API. Request logging is ours (allow-listed fields only): Fastify's own
 * request logs would include URLs with query strings, which can carry addresses.
 *
 * Every route declares its access (api/access.ts); the onRoute hook installed before any
 * route attaches authentication to the protected ones and refuses undeclared ones.
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
    // SEALPOST_TRUSTED_PROXIES: whose X-Forwarded-For gives request.ip (auth/source.ts).
    trustProxy: deps.trustProxy,
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
  enforceAccess(app, createAuthn(deps.authn));
  // Before any route: every route (and scope) below inherits the audit hooks.
  registerAuditHook(app, deps.audit);
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
      // Each operation names its own security (api/access.ts): public ones none.
      components: { securitySchemes: securitySchemes(`${deps.issuer}/oauth/token`) },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });
  app.get(
    "/openapi.json",
    { config: access({ public: "the OpenAPI document" }), schema: { hide: true } },
    async () => app.swagger(),
  );
  registerWellKnownRoutes(app, deps);
  registerOAuthRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerMessageRoutes(app, deps);
  registerSandboxRoutes(app, deps);
  registerDomainRoutes(app, deps);
  registerSuppressionRoutes(app, deps);
  registerTlsCheckRoutes(app, deps);
  registerHeaderToolRoutes(app, deps);
  registerApiKeyRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerRetentionRoutes(app, deps);
  registerPolicyRoutes(app, deps);
  registerLegalHoldRoutes(app, deps);
  registerRecipientKeyRoutes(app, deps);
  registerReportRoutes(app, deps);
  registerPauboxRoutes(app, deps);
  registerPortalRoutes(app, deps);
  registerPortalRevokeRoutes(app, deps);
  registerTemplateRoutes(app, deps);
  registerWebhookRoutes(app, deps);
  registerOpenRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerStatsRoutes(app, deps);
  return app;
}
