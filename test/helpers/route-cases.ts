import type { Scope } from "../../src/core/principal.ts";

/**
 * One case per protected route (ADR 0008 §8): the scope it needs, a request that a key
 * holding that scope may make, and the same request on another org's object (answered 404,
 * never 403: no existence leak) — or why there is no such object. test/api/route-security
 * fails when a route of the app has no case here, or a case names a route that is gone.
 */
export interface Fixture {
  /** Org A's objects. */
  messageId: string;
  deliveryId: string;
  domainId: string;
  suppressed: string;
  spareKeyId: string;
  orgId: string;
  /** A fresh name per call, for routes that create something named. */
  unique(prefix: string): string;
}

export interface CaseRequest {
  url: string;
  payload?: unknown;
}

export interface RouteCase {
  /** `METHOD url` as Fastify registered it (`:id` parameters). */
  route: string;
  scope: Scope;
  request(f: Fixture): CaseRequest;
  wrongOrg: ((f: Fixture) => CaseRequest) | { none: string };
}

const message = {
  from: "clinic@example.com",
  to: "p@example.org",
  subject: "Hi",
  text: "Hello",
  sandbox: true,
};

const pauboxMessage = {
  data: {
    message: {
      recipients: ["p@example.org"],
      headers: { subject: "Hi", from: "clinic@example.com" },
      content: { "text/plain": "Hello" },
    },
  },
};

const CREATES = "creates an object in the caller's own org; there is no other org's object to name";
const LISTS =
  "lists the caller's own org only (another org's objects are asserted absent by the isolation test)";
const INSTANCE = "instance-wide: no org's object is named";
const PAUBOX_TEMPLATES =
  "the fixture has no template; another org's template id answers 404 (test/api/paubox-templates.test.ts)";

const sealpostCases: RouteCase[] = [
  {
    route: "POST /v1/messages",
    scope: "messages:send",
    request: () => ({ url: "/v1/messages", payload: message }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "POST /v1/messages/batch",
    scope: "messages:send",
    request: () => ({ url: "/v1/messages/batch", payload: { messages: [message] } }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "GET /v1/messages",
    scope: "messages:read",
    request: () => ({ url: "/v1/messages" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "GET /v1/messages/:id",
    scope: "messages:read",
    request: (f) => ({ url: `/v1/messages/${f.messageId}` }),
    wrongOrg: (f) => ({ url: `/v1/messages/${f.messageId}` }),
  },
  {
    route: "POST /v1/messages/:id/cancel",
    scope: "messages:send",
    request: (f) => ({ url: `/v1/messages/${f.messageId}/cancel` }),
    wrongOrg: (f) => ({ url: `/v1/messages/${f.messageId}/cancel` }),
  },
  {
    route: "POST /v1/messages/:id/revoke",
    scope: "messages:send",
    request: (f) => ({ url: `/v1/messages/${f.messageId}/revoke` }),
    wrongOrg: (f) => ({ url: `/v1/messages/${f.messageId}/revoke` }),
  },
  {
    route: "GET /v1/sandbox/messages",
    scope: "messages:read_content",
    request: () => ({ url: "/v1/sandbox/messages" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "GET /v1/sandbox/messages/:id",
    scope: "messages:read_content",
    request: (f) => ({ url: `/v1/sandbox/messages/${f.deliveryId}` }),
    wrongOrg: (f) => ({ url: `/v1/sandbox/messages/${f.deliveryId}` }),
  },
  {
    route: "POST /v1/domains",
    scope: "domains:manage",
    request: (f) => ({ url: "/v1/domains", payload: { name: `${f.unique("d")}.example` } }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "GET /v1/domains",
    scope: "domains:manage",
    request: () => ({ url: "/v1/domains" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "GET /v1/domains/:id",
    scope: "domains:manage",
    request: (f) => ({ url: `/v1/domains/${f.domainId}` }),
    wrongOrg: (f) => ({ url: `/v1/domains/${f.domainId}` }),
  },
  {
    route: "POST /v1/domains/:id/verify",
    scope: "domains:manage",
    request: (f) => ({ url: `/v1/domains/${f.domainId}/verify` }),
    wrongOrg: (f) => ({ url: `/v1/domains/${f.domainId}/verify` }),
  },
  {
    route: "POST /v1/domains/:id/rotate-dkim",
    scope: "domains:manage",
    request: (f) => ({ url: `/v1/domains/${f.domainId}/rotate-dkim` }),
    wrongOrg: (f) => ({ url: `/v1/domains/${f.domainId}/rotate-dkim` }),
  },
  {
    route: "GET /v1/suppressions",
    scope: "suppressions:manage",
    request: () => ({ url: "/v1/suppressions" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "POST /v1/suppressions",
    scope: "suppressions:manage",
    request: () => ({ url: "/v1/suppressions", payload: { address: "s2@example.org" } }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "DELETE /v1/suppressions/:address",
    scope: "suppressions:manage",
    request: (f) => ({ url: `/v1/suppressions/${encodeURIComponent(f.suppressed)}` }),
    wrongOrg: (f) => ({ url: `/v1/suppressions/${encodeURIComponent(f.suppressed)}` }),
  },
  {
    route: "GET /v1/retention",
    scope: "admin",
    request: () => ({ url: "/v1/retention" }),
    wrongOrg: { none: "the caller's own org's settings; no org is named" },
  },
  {
    route: "PUT /v1/retention",
    scope: "admin",
    request: () => ({ url: "/v1/retention", payload: { content_retention_days: 30 } }),
    wrongOrg: { none: "the caller's own org's settings; no org is named" },
  },
  {
    route: "GET /v1/policy",
    scope: "admin",
    request: () => ({ url: "/v1/policy" }),
    wrongOrg: { none: "the caller's own org's policy; no org is named" },
  },
  {
    route: "PUT /v1/policy",
    scope: "admin",
    request: () => ({ url: "/v1/policy", payload: { portal_link_days: 14 } }),
    wrongOrg: { none: "the caller's own org's policy; no org is named" },
  },
  {
    route: "POST /v1/legal-holds",
    scope: "admin",
    request: (f) => ({ url: "/v1/legal-holds", payload: { kind: "message", message_id: f.messageId } }),
    wrongOrg: (f) => ({ url: "/v1/legal-holds", payload: { kind: "message", message_id: f.messageId } }),
  },
  {
    route: "GET /v1/legal-holds",
    scope: "admin",
    request: () => ({ url: "/v1/legal-holds?all=true" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "DELETE /v1/legal-holds/:id",
    scope: "admin",
    request: () => ({ url: `/v1/legal-holds/hold_${"0".repeat(26)}` }),
    wrongOrg: {
      none: "the fixture has no hold to name; releasing another org's hold answers 404 in test/retention/holds.test.ts",
    },
  },
  {
    route: "POST /v1/recipient-keys",
    scope: "keys:manage",
    request: () => ({
      url: "/v1/recipient-keys",
      payload: { address: "r@example.org", public_key: "not a key: refused after authentication" },
    }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "GET /v1/recipient-keys",
    scope: "keys:manage",
    request: () => ({ url: "/v1/recipient-keys" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "GET /v1/recipient-keys/:id",
    scope: "keys:manage",
    request: () => ({ url: `/v1/recipient-keys/rk_${"0".repeat(26)}` }),
    wrongOrg: {
      none: "the fixture has no recipient key to name; another org's key answers 404 in test/api/recipient-keys.test.ts",
    },
  },
  {
    route: "DELETE /v1/recipient-keys/:id",
    scope: "keys:manage",
    request: () => ({ url: `/v1/recipient-keys/rk_${"0".repeat(26)}` }),
    wrongOrg: {
      none: "the fixture has no recipient key to name; deleting another org's key answers 404 in test/api/recipient-keys.test.ts",
    },
  },
  {
    route: "POST /v1/webhooks",
    scope: "webhooks:manage",
    request: () => ({ url: "/v1/webhooks", payload: { url: "https://127.0.0.1/hook" } }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "GET /v1/webhooks",
    scope: "webhooks:manage",
    request: () => ({ url: "/v1/webhooks" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "GET /v1/webhooks/:id",
    scope: "webhooks:manage",
    request: () => ({ url: `/v1/webhooks/whk_${"0".repeat(26)}` }),
    wrongOrg: {
      none: "the fixture has no webhook to name; another org's endpoint answers 404 in test/api/webhooks.test.ts",
    },
  },
  {
    route: "PUT /v1/webhooks/:id",
    scope: "webhooks:manage",
    request: () => ({ url: `/v1/webhooks/whk_${"0".repeat(26)}`, payload: { enabled: false } }),
    wrongOrg: {
      none: "the fixture has no webhook to name; another org's endpoint answers 404 in test/api/webhooks.test.ts",
    },
  },
  {
    route: "DELETE /v1/webhooks/:id",
    scope: "webhooks:manage",
    request: () => ({ url: `/v1/webhooks/whk_${"0".repeat(26)}` }),
    wrongOrg: {
      none: "the fixture has no webhook to name; another org's endpoint answers 404 in test/api/webhooks.test.ts",
    },
  },
  {
    route: "POST /v1/webhooks/:id/test",
    scope: "webhooks:manage",
    request: () => ({ url: `/v1/webhooks/whk_${"0".repeat(26)}/test` }),
    wrongOrg: {
      none: "the fixture has no webhook to name; another org's endpoint answers 404 in test/api/webhooks.test.ts",
    },
  },
  {
    route: "POST /v1/webhooks/:id/rotate-secret",
    scope: "webhooks:manage",
    request: () => ({ url: `/v1/webhooks/whk_${"0".repeat(26)}/rotate-secret`, payload: {} }),
    wrongOrg: {
      none: "the fixture has no webhook to name; another org's endpoint answers 404 in test/api/webhooks.test.ts",
    },
  },
  {
    route: "GET /v1/webhooks/:id/deliveries",
    scope: "webhooks:manage",
    request: () => ({ url: `/v1/webhooks/whk_${"0".repeat(26)}/deliveries` }),
    wrongOrg: {
      none: "the fixture has no webhook to name; another org's endpoint answers 404 in test/api/webhooks.test.ts",
    },
  },
  {
    route: "POST /v1/templates",
    scope: "templates:manage",
    request: (f) => ({
      url: "/v1/templates",
      payload: { name: f.unique("tpl"), subject: "Hi", text: "Hello" },
    }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "GET /v1/templates",
    scope: "templates:manage",
    request: () => ({ url: "/v1/templates" }),
    wrongOrg: { none: LISTS },
  },
  ...(
    [
      ["GET", "/v1/templates/:id", "", undefined],
      ["GET", "/v1/templates/:id/versions/:version", "/versions/1", undefined],
      ["PUT", "/v1/templates/:id", "", { subject: "Hi", text: "Hello" }],
      ["DELETE", "/v1/templates/:id", "", undefined],
      ["POST", "/v1/templates/:id/render", "/render", { data: {} }],
    ] as const
  ).map(
    ([method, route, tail, payload]): RouteCase => ({
      route: `${method} ${route}`,
      scope: "templates:manage",
      request: () => ({
        url: `/v1/templates/tpl_${"0".repeat(26)}${tail}`,
        ...(payload === undefined ? {} : { payload }),
      }),
      wrongOrg: {
        none: "the fixture has no template to name; another org's template answers 404 in test/api/templates.test.ts",
      },
    }),
  ),
  {
    route: "GET /v1/audit",
    scope: "audit:read",
    request: () => ({ url: "/v1/audit" }),
    wrongOrg: { none: "reads the caller's own chain only" },
  },
  {
    route: "GET /v1/audit/verify",
    scope: "audit:read",
    request: () => ({ url: "/v1/audit/verify" }),
    wrongOrg: { none: "reads the caller's own chain only" },
  },
  {
    route: "GET /v1/reports/compliance",
    scope: "audit:read",
    request: () => ({ url: "/v1/reports/compliance?from=2026-01-01&to=2026-02-01" }),
    wrongOrg: { none: "reports on the caller's own org only" },
  },
  {
    route: "GET /v1/events",
    scope: "messages:read",
    request: (f) => ({ url: `/v1/events?message_id=${f.messageId}` }),
    wrongOrg: {
      none: "lists the caller's own org only: another org's message_id matches nothing (test/api/events.test.ts)",
    },
  },
  {
    route: "GET /v1/stats",
    scope: "messages:read",
    request: () => ({ url: "/v1/stats?interval=day" }),
    wrongOrg: { none: "counts the caller's own org only (test/api/stats.test.ts)" },
  },
  {
    route: "GET /v1/tools/tls-check",
    scope: "messages:read",
    request: () => ({ url: "/v1/tools/tls-check?domain=example.com" }),
    wrongOrg: { none: "a diagnostic of public DNS; reads no org's object" },
  },
  {
    route: "POST /v1/tools/analyze-headers",
    scope: "messages:read",
    request: () => ({
      url: "/v1/tools/analyze-headers",
      payload: { headers: "Received: from a by b; Thu, 26 Nov 2026 10:00:00 +0000\r\n" },
    }),
    wrongOrg: { none: "analyzes the request body only; reads no org's object" },
  },
  {
    route: "POST /v1/api-keys",
    scope: "keys:manage",
    request: () => ({
      url: "/v1/api-keys",
      payload: { name: "made", mode: "live", scopes: ["keys:manage"] },
    }),
    wrongOrg: { none: CREATES },
  },
  {
    route: "GET /v1/api-keys",
    scope: "keys:manage",
    request: () => ({ url: "/v1/api-keys" }),
    wrongOrg: { none: LISTS },
  },
  {
    route: "GET /v1/api-keys/:id",
    scope: "keys:manage",
    request: (f) => ({ url: `/v1/api-keys/${f.spareKeyId}` }),
    wrongOrg: (f) => ({ url: `/v1/api-keys/${f.spareKeyId}` }),
  },
  {
    route: "POST /v1/api-keys/:id/rotate",
    scope: "keys:manage",
    request: (f) => ({ url: `/v1/api-keys/${f.spareKeyId}/rotate`, payload: { overlap_seconds: 0 } }),
    wrongOrg: (f) => ({ url: `/v1/api-keys/${f.spareKeyId}/rotate`, payload: { overlap_seconds: 0 } }),
  },
  {
    route: "DELETE /v1/api-keys/:id",
    scope: "keys:manage",
    request: (f) => ({ url: `/v1/api-keys/${f.spareKeyId}` }),
    wrongOrg: (f) => ({ url: `/v1/api-keys/${f.spareKeyId}` }),
  },
  {
    route: "POST /v1/admin/orgs",
    scope: "instance:admin",
    request: (f) => ({ url: "/v1/admin/orgs", payload: { name: f.unique("org") } }),
    wrongOrg: { none: INSTANCE },
  },
  {
    route: "GET /v1/admin/orgs",
    scope: "instance:admin",
    request: () => ({ url: "/v1/admin/orgs" }),
    wrongOrg: { none: INSTANCE },
  },
  {
    route: "GET /v1/admin/orgs/:id",
    scope: "instance:admin",
    request: (f) => ({ url: `/v1/admin/orgs/${f.orgId}` }),
    wrongOrg: { none: INSTANCE },
  },
  {
    route: "POST /v1/admin/signing-keys/rotate",
    scope: "instance:admin",
    request: () => ({ url: "/v1/admin/signing-keys/rotate" }),
    wrongOrg: { none: INSTANCE },
  },
];

/** The Paubox-compatible routes, at both of their prefixes. */
function pauboxCases(prefix: "/paubox/v1" | "/v1/:username"): RouteCase[] {
  const at = prefix === "/paubox/v1" ? prefix : "/v1/acme";
  const receipt = (f: Fixture) => ({ url: `${at}/message_receipt?sourceTrackingId=${f.messageId}` });
  // The upload routes take multipart: the harness's JSON body is refused (415) after authentication.
  const template = (method: string, path: string): RouteCase => ({
    route: `${method} ${prefix}${path}`,
    scope: "templates:manage",
    request: () => ({
      url: `${at}${path.replace(":id", "tpl_00000000000000000000000000")}`,
      ...(method === "POST" || method === "PATCH" ? { payload: {} } : {}),
    }),
    wrongOrg: path.endsWith(":id")
      ? { none: PAUBOX_TEMPLATES }
      : { none: path === "/dynamic_templates" && method === "GET" ? LISTS : CREATES },
  });
  return [
    {
      route: `POST ${prefix}/messages`,
      scope: "messages:send",
      request: () => ({ url: `${at}/messages`, payload: pauboxMessage }),
      wrongOrg: { none: CREATES },
    },
    {
      route: `POST ${prefix}/bulk_messages`,
      scope: "messages:send",
      request: () => ({
        url: `${at}/bulk_messages`,
        payload: { data: { messages: [pauboxMessage.data.message] } },
      }),
      wrongOrg: { none: CREATES },
    },
    { route: `GET ${prefix}/message_receipt`, scope: "messages:read", request: receipt, wrongOrg: receipt },
    {
      route: `POST ${prefix}/templated_messages`,
      scope: "messages:send",
      request: () => ({
        url: `${at}/templated_messages`,
        payload: {
          data: { template_name: "none", template_values: "{}", message: pauboxMessage.data.message },
        },
      }),
      wrongOrg: { none: "names a template by name in the caller's own org (another org's name answers 404)" },
    },
    template("GET", "/dynamic_templates"),
    template("POST", "/dynamic_templates"),
    template("GET", "/dynamic_templates/:id"),
    template("PATCH", "/dynamic_templates/:id"),
    template("DELETE", "/dynamic_templates/:id"),
  ];
}

export const ROUTE_CASES: readonly RouteCase[] = [
  ...sealpostCases,
  ...pauboxCases("/paubox/v1"),
  ...pauboxCases("/v1/:username"),
];

/** Routes open without credentials, each with why. Anything else must have a case. */
export const PUBLIC_ROUTES: Readonly<Record<string, string>> = {
  "GET /healthz": "liveness probe",
  "GET /readyz": "readiness probe",
  "GET /metrics": "Prometheus scrape; counters only, no PHI",
  "GET /openapi.json": "the API description",
  "GET /.well-known/jwks.json": "public keys that verify access tokens",
  "GET /.well-known/oauth-authorization-server": "RFC 8414 metadata",
  "POST /oauth/token": "authenticates its client itself (RFC 6749 §2.3)",
  "GET /portal/assets/portal.css": "the secure portal's stylesheet",
  "GET /portal/:token": "the secure portal: the link token is the credential (ADR 0010 §6)",
  "POST /portal/:token/code": "the secure portal: mails a one-time code to the link's recipient",
  "POST /portal/:token/verify": "the secure portal: checks the one-time code, locks after too many",
  "GET /portal/:token/message": "the secure portal: needs the session of a verified code",
  "GET /portal/:token/attachments/:n": "the secure portal: needs the session of a verified code",
  "POST /portal/:token/reply": "the secure portal: needs the session and its CSRF token",
  "GET /t/o/:token.gif": "the open-tracking pixel: the token's HMAC is the credential (ADR 0011 §6)",
};
